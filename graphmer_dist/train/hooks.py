"""How a launcher plugs into the loop without the library knowing it (Ray lives in launch/ray_hooks.py).

A checkpoint is written by every rank into `staging_dir(step, rank)` (rank 0 adds the manifest last)
and handed to `report(metrics, dir)`, which publishes it: `LocalHooks` through the checkpoint
package's `CheckpointManager.publish` (rename locally, manifest-last on S3, retention); Ray's hooks through
`ray.train.report`, each rank's folder published by `CheckpointManager.publish_part` into the same
`checkpoints/step-NNNNNNN/` layout.
`report` is also called by every rank at the end of the run, without a checkpoint.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from graphmer_dist.checkpoint import CheckpointManager, resolve_resume
from graphmer_dist.checkpoint.manifest import MANIFEST, step_dirname
from graphmer_dist.storage import open_storage


class TrainHooks(Protocol):
    def resume_checkpoint(self) -> str | None:
        """A local, verified folder holding the checkpoint to resume from, or None to start fresh."""

    def staging_dir(self, step: int, rank: int) -> str:
        """An empty local folder this rank writes its part of checkpoint `step` into."""

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        """Collective: publish `checkpoint_dir` (if any) with the metrics of this step."""

    def stop_requested(self) -> bool:
        """Whether the launcher asks the run to checkpoint and stop (asked on rank 0 once per step)."""


class LocalHooks:
    """No Ray: one process (or torchrun ranks on one node sharing a staging folder); rank 0 publishes."""

    def __init__(self, run_dir: str, resume: str, resume_roots: list[str], keep: int,
                 model_hash: str | None = None, endpoint: str | None = None) -> None:
        self.run_dir, self.resume, self.resume_roots = run_dir, resume, resume_roots
        self.model_hash, self.endpoint = model_hash, endpoint
        self.manager = CheckpointManager(open_storage(run_dir, endpoint), keep=keep)
        self.staging_root = Path(tempfile.gettempdir()) / (
            "graphmer-staging-" + hashlib.sha256(run_dir.encode()).hexdigest()[:12])
        self.last_metrics: dict = {}

    def stop_requested(self) -> bool:
        return False  # signals reach this process directly (see preemption.StopRequest)

    def resume_checkpoint(self) -> str | None:
        found = resolve_resume(self.resume, self.run_dir, self.resume_roots, model_hash=self.model_hash,
                               endpoint=self.endpoint)
        return None if found is None else str(found.path)

    def staging_dir(self, step: int, rank: int) -> str:
        path = self.staging_root / step_dirname(step)
        if rank == 0 and path.exists():  # a leftover of a killed run (the trainer barriers after this)
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        self.last_metrics = dict(metrics)
        if checkpoint_dir is None or not (Path(checkpoint_dir) / MANIFEST).exists():
            return  # no checkpoint, or not rank 0 (only rank 0's folder has the manifest)
        self.manager.publish(Path(checkpoint_dir))

"""How a launcher plugs into the loop without the library knowing it (Ray lives in launch/ray_hooks.py).

A checkpoint is written by every rank into `staging_dir(step)` and handed to `report(metrics, dir)`,
which publishes it: `LocalHooks` renames it into `<run_dir>/checkpoints/step-NNNNNNN/` and prunes;
Ray's hooks hand it to `ray.train.report`, which uploads and merges the ranks' folders into the same
layout. `report` is also called (without a checkpoint) by every rank at the end of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from graphmer_dist.train import publish


class TrainHooks(Protocol):
    def resume_checkpoint(self) -> str | None:
        """A local folder holding the checkpoint to resume from, or None to start fresh."""

    def staging_dir(self, step: int, rank: int) -> str:
        """A fresh local folder this rank writes the checkpoint of `step` into."""

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        """Collective: publish `checkpoint_dir` (if any) with the metrics of this step."""


class LocalHooks:
    """One process (strategy 'single') or several sharing a filesystem (torchrun): the run folder is
    local, rank 0 publishes by rename after every rank has written (the caller's barrier)."""

    def __init__(self, run_dir: str, resume: str, resume_roots: list[str], keep: int) -> None:
        self.run_dir = run_dir
        self.resume = resume
        self.resume_roots = resume_roots
        self.keep = keep
        self.published: list[str] = []

    def resume_checkpoint(self) -> str | None:
        found = publish.resolve_resume(self.resume, self.run_dir, self.resume_roots)
        return None if found is None else str(found)

    def staging_dir(self, step: int, rank: int) -> str:
        path = publish.staging_dir(self.run_dir, step) if rank == 0 else publish.checkpoints_root(
            self.run_dir) / f".tmp-{publish.step_dir_name(step)}"
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        if checkpoint_dir is not None and Path(checkpoint_dir).joinpath("manifest.json").exists():
            final = publish.publish(Path(checkpoint_dir), self.run_dir, metrics["step"], self.keep)
            self.published.append(str(final))

"""The loop's hooks under Ray Train: resume from Ray's checkpoint, publish through `ray.train.report`.

Every rank writes its part of a checkpoint into its own temporary folder named `step-NNNNNNN` and
reports it with `checkpoint_dir_name="step-NNNNNNN"`; Ray uploads and merges the ranks' folders into
`<storage_path>/<name>/step-NNNNNNN/`, which the driver points at `<run_dir>/checkpoints/`.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path

import ray.train

from graphmer_dist.checkpoint import verify_folder
from graphmer_dist.train.loop import local_hooks
from launch.ray_console import RelayClient

log = logging.getLogger(__name__)


class RayHooks:
    def __init__(self, job: dict) -> None:
        self.stop_flag = job.get("stop_flag")
        # rank 0's progress display goes to the driver's console (launch/ray_console.py)
        self.console = RelayClient(job["console"]) if job.get("console") is not None else None
        # A fresh Ray run may continue a run folder's older checkpoints (or a --resume path).
        self.fallback = local_hooks(job)
        self._downloads: list[tempfile.TemporaryDirectory] = []

    def resume_checkpoint(self) -> str | None:
        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:  # first attempt of this Ray run: the run folder decides
            return self.fallback.resume_checkpoint()
        import pyarrow.fs
        if isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem):
            folder = checkpoint.path
        else:
            download = tempfile.TemporaryDirectory(prefix="graphmer-resume-")
            self._downloads.append(download)
            folder = checkpoint.to_directory(os.path.join(download.name, os.path.basename(checkpoint.path)))
        # Ray hands back the last reported checkpoint after a worker-group restart; a node lost mid-upload
        # can leave it torn. Verify it like any other; when it fails, the run folder's newest valid one.
        problem = verify_folder(Path(folder))
        if problem:
            log.warning("Ray's checkpoint %s is not intact (%s); resuming from the run folder's newest valid "
                        "checkpoint instead", checkpoint.path, problem)
            return self.fallback.resume_checkpoint()
        return folder

    def stop_requested(self) -> bool:
        return self.stop_flag is not None and ray.get(self.stop_flag.get.remote()) is not None

    def staging_dir(self, step: int, rank: int) -> str:
        path = os.path.join(tempfile.mkdtemp(prefix=f"graphmer-ckpt-rank{rank}-"), f"step-{step:07d}")
        os.makedirs(path)
        return path

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        clean = {k: v for k, v in metrics.items() if isinstance(v, (int, float, bool, str))
                 and not (isinstance(v, float) and math.isnan(v))}
        if checkpoint_dir is None:
            ray.train.report(clean)
            return
        ray.train.report(clean, checkpoint=ray.train.Checkpoint.from_directory(checkpoint_dir),
                         checkpoint_dir_name=os.path.basename(checkpoint_dir))


def ray_train_loop(job: dict) -> None:
    """What each Ray worker runs: the library loop with Ray's hooks."""
    from graphmer_dist.train.loop import train_loop_per_worker
    train_loop_per_worker(job, RayHooks(job))

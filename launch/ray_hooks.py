"""The loop's hooks under Ray Train: resume from Ray's checkpoint, publish through `ray.train.report`.

Every rank writes its part of a checkpoint into its own temporary folder named `step-NNNNNNN` and
reports it with `checkpoint_dir_name="step-NNNNNNN"`; its part lands in `<run_dir>/checkpoints/step-NNNNNNN/`
(the driver points Ray's storage there), where Ray registers the checkpoint. The bytes go through our own
storage, not Ray's pyarrow copy: `checkpoint_upload_fn` hands each rank's folder to
`CheckpointManager.publish_part` (S3: boto3 with our retry policy, so an endpoint outage is ridden out as
on the single-process path; rank 0's manifest last, once every rank's files are there), and a checkpoint
Ray hands back after a restart is read and verified by the same manager.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from pathlib import Path

import ray.train

from graphmer_dist.checkpoint.manifest import STEP_DIR
from graphmer_dist.errors import CheckpointError
from graphmer_dist.train.loop import local_hooks
from launch.ray_console import RelayClient

log = logging.getLogger(__name__)
STOP_POLL_S = 1.0
"""How often rank 0 asks the driver whether a signal came (an actor round trip; it is asked every step)."""


class RayHooks:
    def __init__(self, job: dict) -> None:
        self.stop_flag = job.get("stop_flag")
        self._asked, self._next_poll = False, 0.0
        # rank 0's progress display goes to the driver's console (launch/ray_console.py)
        self.console = RelayClient(job["console"]) if job.get("console") is not None else None
        # A fresh Ray run may continue a run folder's older checkpoints (or a --resume path).
        self.fallback = local_hooks(job)

    def resume_checkpoint(self) -> str | None:
        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:  # first worker group of this launch (see forget_earlier_ray_runs): --resume decides
            return self.fallback.resume_checkpoint()
        # Ray hands back the last checkpoint it registered after a worker-group restart: one of the run
        # folder's, which a node lost mid-upload can leave torn. Verify it like any other (S3: downloaded
        # through our storage); when it fails, the run folder's newest valid one.
        step = int(STEP_DIR.match(os.path.basename(checkpoint.path)).group(1))
        try:
            return str(self.fallback.manager.load(step))
        except CheckpointError as exc:
            log.warning("Ray's checkpoint %s is not intact (%s); resuming from the run folder's newest valid "
                        "checkpoint instead", checkpoint.path, exc)
            return self.fallback.resume_checkpoint()

    def stop_requested(self) -> bool:
        # At most every STOP_POLL_S (a signal's grace period is tens of seconds), and a yes is kept: with
        # an actor call per step, the driver's relay actor was the busiest Ray process of a 1-worker run.
        if self.stop_flag is None or self._asked:
            return self._asked
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + STOP_POLL_S
            self._asked = ray.get(self.stop_flag.get.remote()) is not None
        return self._asked

    def staging_dir(self, step: int, rank: int) -> str:
        # One folder per run and rank (Ray uploads a rank's folder whole, so ranks never share one), named
        # like the local path's: a folder per checkpoint left one in /tmp for every checkpoint of every run.
        root = self.fallback.staging_root
        path = root.with_name(f"{root.name}-rank{rank}") / f"step-{step:07d}"
        shutil.rmtree(path, ignore_errors=True)  # a leftover of a killed attempt
        path.mkdir(parents=True)
        return str(path)

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        clean = {k: v for k, v in metrics.items() if isinstance(v, (int, float, bool, str))
                 and not (isinstance(v, float) and math.isnan(v))}
        if checkpoint_dir is None:
            ray.train.report(clean)
            return
        ray.train.report(clean, checkpoint=ray.train.Checkpoint.from_directory(checkpoint_dir),
                         checkpoint_dir_name=os.path.basename(checkpoint_dir), checkpoint_upload_fn=self._publish)

    def _publish(self, checkpoint: ray.train.Checkpoint, name: str) -> ray.train.Checkpoint:
        """Ray's upload step, done by our checkpoint manager; returns where Ray registers it (its storage
        context, a DeveloperAPI, says how Ray names that folder)."""
        self.fallback.manager.publish_part(Path(checkpoint.path))
        where = ray.train.get_context().get_storage()
        return ray.train.Checkpoint(path=where.build_checkpoint_path_from_name(name),
                                    filesystem=where.storage_filesystem)


def ray_train_loop(job: dict) -> None:
    """What each Ray worker runs: the library loop with Ray's hooks."""
    from graphmer_dist.train.loop import train_loop_per_worker
    train_loop_per_worker(job, RayHooks(job))

"""Losing a node of a multi-node Ray cluster mid-run (issue 14): the run recovers from the last checkpoint
in S3, completes, and leaves a checkpoint folder in which every checkpoint verifies against its manifest.

Real parts: benchmarks/node_loss.py itself (a head and two 1-CPU nodes of `ray.cluster_utils.Cluster`, 2
DDP workers through the launcher's `run_with_ray`, a worker's node removed without warning once the first
checkpoint is in S3), in a subprocess because its cluster must be that process's only Ray; the run folder
on this session's loopback S3 server, checked from here once the script is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphmer_dist.checkpoint import CheckpointManager
from graphmer_dist.storage import open_storage

ROOT = Path(__file__).resolve().parent.parent
STEPS = 8  # room to train on after the removal on a fast machine (CI trained to step 4 before it took effect)

pytestmark = pytest.mark.slow


def test_a_lost_node_is_recovered_from_the_last_s3_checkpoint(s3, tiny_dataset, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    env.pop("RAY_ADDRESS", None)  # its own cluster, never this session's
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "node_loss.py"), str(tiny_dataset),
                           "--steps", str(STEPS), "--endpoint", s3.endpoint, "--bucket", s3.bucket],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, (done.stdout + done.stderr)[-4000:]
    result = json.loads(lines[-1][len("RESULT "):])

    assert result["exit"] == 0 and result["final_step"] == STEPS, result
    manager = CheckpointManager(open_storage(s3.uri("run"), s3.endpoint), cache_dir=tmp_path / "verify")
    every = [ref.step for ref in manager.all_refs()]
    assert [ref.step for ref in manager.list_valid()] == every and every[-1] == STEPS, every

    # Recovered from a checkpoint (not from scratch), no older than the newest one that was whole when the
    # node went: the surviving rank may still publish a later one before the restart (CI: whole at
    # removal [2], resumed from 4), and then that one is the right place to resume. Trained on from there.
    resumed_from = result["first_step_after"] - 1
    assert resumed_from % 2 == 0, result  # node_loss.py checkpoints every 2 steps
    assert resumed_from >= max(result["whole_at_removal"]) >= 2, result
    steps = result["steps"]
    last_start = len(steps) - 1 - steps[::-1].index(resumed_from + 1)
    assert steps[last_start:] == list(range(resumed_from + 1, STEPS + 1)), result

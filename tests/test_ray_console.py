"""One console under Ray (issue 15): a 2-worker DDP run prints what a single run prints, once.

The CLI runs in a subprocess joined to the session's Ray by address (`--platform cluster`), so it
connects the way a user's driver does; stdout is a pipe, not a terminal, so no ANSI code may appear.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# What Ray prints when it streams its processes' logs to the driver (the issue's 55-line console).
RAY_CHATTER = re.compile(r"pid=\d+|TrainController|PlacementGroupCleaner|State API|core_worker|"
                         r"Reporting training result|TrainingReport|Found credentials|worker\.py:\d+|"
                         r"Checkpoint successfully created|repeated \d+x across cluster")
STEPS = 4


def test_two_worker_ddp_console_is_the_single_run_console(ray_cluster, tiny_dataset, tmp_path):
    address = ray_cluster.get_runtime_context().gcs_address
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "launch.cli", "--platform", "cluster", "--address", address,
               "--config", "tiny", "--dataset", str(tiny_dataset), "--strategy", "ddp", "--num-workers", "2",
               "--steps", str(STEPS), "--run-dir", str(run_dir),
               "--set", "train.log_every=1", "--set", "train.eval_every=2", "--set", "model.attention=eager"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    lines = out.splitlines()

    assert "\x1b[" not in out, "ANSI codes in a console that is not a terminal"
    assert [line for line in lines if RAY_CHATTER.search(line)] == []
    box_end = next(i for i, line in enumerate(lines) if line.startswith("└"))
    ray_logs = next(i for i, line in enumerate(lines) if line.startswith("Ray's logs"))
    notes = lines[box_end + 1:ray_logs]  # the plan's notes (wrapped at 80 columns), if it has any
    assert not notes or notes[0].startswith("note:"), notes
    after_plan = lines[ray_logs:]
    expected = [
        *(f"step {s}/{STEPS} loss" for s in range(1, STEPS + 1)),  # rank 0's rows, each once
        *(f"step {s}/{STEPS} val_loss" for s in (2, 4)),
        f"finished {STEPS} steps",
        "validation tail MRR",  # the run's last line before the summary (link prediction vs its baseline)
        f"trained {STEPS}/{STEPS} steps",
    ]
    for prefix in expected:
        assert sum(line.startswith(prefix) for line in after_plan) == 1, (prefix, after_plan)
    logs = [line for line in after_plan if line.startswith("Ray's logs")]
    assert len(logs) == 1 and Path(logs[0].split(": ", 1)[1]).is_dir(), logs
    # Nothing else: the plan, the Ray log location, the rows, the summary.
    assert len(after_plan) == len(expected) + len(logs), after_plan


def test_progress_rows_go_up_in_batches_without_losing_or_reordering_one(ray_cluster):
    from launch.ray_console import DriverLink, RelayClient
    link = DriverLink.remote()
    client = RelayClient(link)
    rows = [("update", step, {"loss": 9.0 - step}) for step in range(1, 6)]
    for row in rows:  # five rows in far less than FLUSH_S: the first goes at once, the rest wait
        client.send(row)
    assert ray_cluster.get(link.drain.remote()) == rows[:1]
    client.send(("message", "validation tail MRR ..."))  # a message goes at once, after what waited
    assert ray_cluster.get(link.drain.remote()) == [*rows[1:], ("message", "validation tail MRR ...")]
    client.send(("update", 6, None))
    client.send(("close",), wait=True)
    assert ray_cluster.get(link.drain.remote()) == [("update", 6, None), ("close",)]

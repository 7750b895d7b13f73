"""`graphmer-launch sweep` (issue 15): a 2-trial grid of the tiny config on the session's Ray, killed mid-run and
resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launch import cli

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_a_two_trial_sweep_killed_mid_trial_resumes_ranks_normal_run_folders_and_restores(
        ray_cluster, tiny_dataset, tmp_path, capsys):
    """SIGKILL to the sweep's driver while its trials train (nothing gets to save on the way out); the
    same command again restores the sweep (Tuner.restore) and finishes every trial from its newest
    checkpoint; a third time restores the finished sweep without training. The killed driver is a process
    of its own that joins the session's Ray by address, as `--address` does on a cluster."""
    sweep = tmp_path / "sweep"
    command = ["sweep", "--config", "tiny", "--dataset", str(tiny_dataset), "--grid", "train.lr=1e-3,3e-3",
               "--steps", "6", "--run-dir", str(sweep), "--address", ray_cluster.get_runtime_context().gcs_address,
               "--set", "train.eval_every=2", "--set", "train.log_every=1", "--set", "checkpoint.every_steps=2",
               "--set", "train.eval_queries=16", "--set", "model.attention=eager"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen([sys.executable, "-m", "launch.cli", *command], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not (checkpointed := sorted(sweep.glob("trials/*/checkpoints/step-0000002/manifest.json"))):
        assert driver.poll() is None, driver.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "no trial reached its first checkpoint"
        time.sleep(0.1)
    driver.kill()
    driver.communicate()
    checkpointed = [path.parents[2] for path in checkpointed]
    assert not all((trial / "checkpoints" / "step-0000006").exists() for trial in checkpointed), \
        "the trials finished before the kill"
    wait_until_no_trial_runs()  # Ray ends a dead driver's trials; none may write any more

    assert cli.main(command) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "resuming the sweep" in out  # Tune's state of the killed sweep was restored
    for trial in checkpointed:  # continued from a checkpoint, not from scratch: step 1 was trained once
        steps = [row["step"] for row in read_rows(trial) if not row.get("eval")]
        assert steps.count(1) == 1 and set(steps) == set(range(1, 7)), (trial.name, steps)

    result = json.loads((sweep / "sweep.json").read_text())
    trials = result["trials"]
    assert result["metric"] == "val_tail_mrr" and result["mode"] == "max"
    assert sorted(t["params"]["train.lr"] for t in trials) == [1e-3, 3e-3]
    assert [t["val_tail_mrr"] for t in trials] == sorted((t["val_tail_mrr"] for t in trials), reverse=True)
    for trial in trials:
        run_dir = Path(trial["run_dir"])
        assert trial["status"] == "done" and trial["step"] == 6
        assert (run_dir / "checkpoints" / "step-0000006" / "manifest.json").is_file()
        assert json.loads((run_dir / "config.json").read_text())["train"]["lr"] == trial["params"]["train.lr"]
        eval_rows = [row for row in read_rows(run_dir) if row.get("eval")]
        assert eval_rows[-1]["val_tail_mrr"] == pytest.approx(trial["val_tail_mrr"])  # its own last validation
        assert len((run_dir / "benchmarks.jsonl").read_text().splitlines()) == 1
    table = out[out.index("rank  train.lr"):]  # the ranked table, after the per-trial lines
    assert table.index(Path(trials[0]["run_dir"]).name) < table.index(Path(trials[1]["run_dir"]).name)

    # The same command again restores the finished sweep from <run-dir>/tune instead of training again.
    assert cli.main(command) == 0
    assert "resuming the sweep" in capsys.readouterr().out
    assert all(len((Path(t["run_dir"]) / "benchmarks.jsonl").read_text().splitlines()) == 1 for t in trials)

    assert cli.main(["report", str(sweep)]) == 0
    report = capsys.readouterr().out
    assert "runs (2)" in report and "ranked by val_tail_mrr (max)" in report


def read_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_grid_values_are_typed_and_checked_before_any_trial(capsys):
    from graphmer_dist.errors import ConfigError
    from launch.cmd_sweep import parse_grid

    assert parse_grid(["train.lr=1e-4,3e-4", "train.warmup_steps=30,100"]) == {
        "train.lr": [1e-4, 3e-4], "train.warmup_steps": [30, 100]}
    with pytest.raises(ConfigError, match="train.warmup_steps' expects an integer"):
        parse_grid(["train.warmup_steps=30,lots"])
    assert cli.main(["sweep", "--config", "tiny", "--grid", "parallel.num_workers=1,2", "--run-dir", "x"]) == 2
    assert "single-process runs" in capsys.readouterr().err


def wait_until_no_trial_runs(timeout_s: float = 120) -> None:
    from ray._private import state
    deadline = time.monotonic() + timeout_s
    while any(actor["ActorClassName"] == "ImplicitFunc" and actor["State"] != "DEAD"
              for actor in state.actors().values()):
        assert time.monotonic() < deadline, "the killed sweep's trials are still running"
        time.sleep(0.2)

"""`graphmer-launch sweep` (issue 15): a 2-trial grid of the tiny config on the session's Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch import cli

pytestmark = pytest.mark.slow


def test_a_two_trial_sweep_ranks_normal_run_folders_and_resumes(ray_cluster, tiny_dataset, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    command = ["sweep", "--config", "tiny", "--dataset", str(tiny_dataset), "--grid", "train.lr=1e-3,3e-3",
               "--steps", "4", "--run-dir", str(sweep), "--set", "train.eval_every=2", "--set", "train.log_every=2",
               "--set", "checkpoint.every_steps=2", "--set", "model.attention=eager"]
    assert cli.main(command) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    result = json.loads((sweep / "sweep.json").read_text())
    trials = result["trials"]
    assert result["metric"] == "val_tail_mrr" and result["mode"] == "max"
    assert sorted(t["params"]["train.lr"] for t in trials) == [1e-3, 3e-3]
    assert [t["val_tail_mrr"] for t in trials] == sorted((t["val_tail_mrr"] for t in trials), reverse=True)
    for trial in trials:
        run_dir = Path(trial["run_dir"])
        assert trial["status"] == "done" and trial["step"] == 4
        assert (run_dir / "checkpoints" / "step-0000004" / "manifest.json").is_file()
        assert json.loads((run_dir / "config.json").read_text())["train"]["lr"] == trial["params"]["train.lr"]
        eval_rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
                     if '"eval": true' in line]
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


def test_grid_values_are_typed_and_checked_before_any_trial(capsys):
    from graphmer_dist.errors import ConfigError
    from launch.cmd_sweep import parse_grid

    assert parse_grid(["train.lr=1e-4,3e-4", "train.warmup_steps=30,100"]) == {
        "train.lr": [1e-4, 3e-4], "train.warmup_steps": [30, 100]}
    with pytest.raises(ConfigError, match="train.warmup_steps' expects an integer"):
        parse_grid(["train.warmup_steps=30,lots"])
    assert cli.main(["sweep", "--config", "tiny", "--grid", "parallel.num_workers=1,2", "--run-dir", "x"]) == 2
    assert "single-process runs" in capsys.readouterr().err

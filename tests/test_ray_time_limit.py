"""`--time-limit` under Ray through the CLI: the 2 DDP workers stop together with a checkpoint, the
launcher exits 75 (stopped to be resumed), and the same command line with more steps continues it."""

from __future__ import annotations

import json

import pytest
from platform_sim import simulate

from graphmer_dist.train.preemption import EXIT_PREEMPTED
from launch.cli import main

pytestmark = pytest.mark.slow


def train_steps(run_dir) -> list[int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row["step"] for row in rows if not row.get("eval")]


def test_time_limit_under_ray_exits_75_and_the_run_resumes(ray_cluster, monkeypatch, tmp_path, tiny_dataset, capsys):
    simulate(monkeypatch, tmp_path, "local")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # torch sets it on first compile
    run_dir = tmp_path / "run"
    args = ["--config", "tiny", "--dataset", str(tiny_dataset), "--strategy", "ddp", "--num-workers", "2",
            "--run-dir", str(run_dir), "--checkpoint-every", "100000", "--set", "train.log_every=1",
            "--set", "train.eval_every=100000", "--set", "model.attention=eager"]
    assert main([*args, "--steps", "100000", "--time-limit", "12s"]) == EXIT_PREEMPTED, capsys.readouterr().err
    saved = sorted(int(p.name[5:]) for p in (run_dir / "checkpoints").iterdir() if p.name.startswith("step-"))
    rows = train_steps(run_dir)
    stopped_at = rows[-1]
    assert saved == [stopped_at] and 0 < stopped_at < 100000  # only the time limit's checkpoint

    assert main([*args, "--steps", str(stopped_at + 2)]) == 0, capsys.readouterr().err
    assert train_steps(run_dir)[len(rows):] == [stopped_at + 1, stopped_at + 2]  # continued, not restarted

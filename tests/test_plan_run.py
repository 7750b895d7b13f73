"""The CPU plan actually runs: `graphmer-launch` with the tiny config, a few steps, in-process."""

from __future__ import annotations

import json

import pytest
from platform_sim import simulate

from launch.cli import main


@pytest.mark.slow
def test_cpu_plan_trains_a_few_steps_and_records_the_plan(monkeypatch, tmp_path, tiny_dataset, capsys):
    simulate(monkeypatch, tmp_path, "local")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # torch sets it on first compile
    run_dir = tmp_path / "run"
    code = main(["--config", "tiny", "--dataset", str(tiny_dataset), "--steps", "3", "--run-dir", str(run_dir),
                 "--checkpoint-every", "3", "--set", "train.log_every=1", "--set", "train.eval_every=100"])
    assert code == 0, capsys.readouterr().err
    plan = json.loads((run_dir / "plan.json").read_text())
    assert (plan["platform"], plan["strategy"], plan["accelerator"], plan["num_workers"]) == ("local", "single", "cpu", 1)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [row["step"] for row in rows if "loss" in row]
    assert max(steps) == 3
    # The last step validates: whole-tail MRR on the fixed val_lp sample beside its count baseline.
    validation = [row for row in rows if "val_tail_mrr" in row]
    assert [row["step"] for row in validation] == [3] and validation[0]["val_link_queries"] > 0
    assert 0 < validation[0]["val_tail_mrr"] <= 1 and 0 < validation[0]["val_tail_mrr_baseline"] <= 1
    assert "validation tail MRR" in capsys.readouterr().out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["precision"] == plan["precision"] and config["parallel"]["strategy"] == "single"
    assert any(p.name.startswith("step-") for p in (run_dir / "checkpoints").iterdir())

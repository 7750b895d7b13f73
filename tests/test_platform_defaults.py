"""No --config: each platform's devices get a config and batch that keep them busy; --config wins."""

from __future__ import annotations

import json

import pytest
from platform_sim import simulate

from graphmer_dist.config_loader import load_config
from launch.cli import main
from launch.memory_estimate import estimate
from launch.platform_defaults import FILL_MICRO_BATCHES


def dry_run(capsys, *argv: str) -> dict:
    assert main([*argv, "--dry-run", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("hardware,workers", [("2xT4", 2), ("P100", 1)])
def test_kaggle_without_config_trains_graphmert_base_at_the_largest_micro_batch_that_fits(
        monkeypatch, tmp_path, capsys, hardware, workers):
    simulate(monkeypatch, tmp_path, "local")
    # An empty dataset cache: the plan assumes the sequences' shape, as the estimate below does.
    plan = dry_run(capsys, "--platform", "kaggle", "--hardware", hardware, "--set", f"data.cache_dir={tmp_path / 'c'}")
    assert plan["config_name"] == "graphmert-base" and plan["num_workers"] == workers
    assert plan["sequence_shape"]["measured"] is False
    micro = plan["micro_batch_size"]
    assert plan["estimated_memory_bytes"] <= plan["usable_memory_bytes"]
    # Filled: the next larger micro-batch's estimate, same layout, would not fit.
    larger = [m for m in FILL_MICRO_BATCHES if m > micro]
    if larger:
        config = load_config("graphmert-base")
        bigger = estimate(config.model, micro_batch=larger[-1], precision=plan["precision"], strategy=plan["strategy"],
                          zero_stage=plan["zero_stage"], workers=workers, offload_optimizer=plan["offload_optimizer"])
        assert bigger.total_bytes > plan["usable_memory_bytes"]
    assert plan["global_batch_size"] % (micro * workers) == 0 and plan["global_batch_size"] >= micro * workers
    assert plan["estimated_memory_bytes"] > plan["usable_memory_bytes"] / 2  # not the 0.47 GiB of cpu-small
    assert any("no --config" in note for note in plan["notes"])
    assert any(f"micro-batch {micro}: the largest" in note for note in plan["notes"])


def test_explicit_config_wins_and_a_cpu_keeps_cpu_small(monkeypatch, tmp_path, capsys):
    simulate(monkeypatch, tmp_path, "local")
    plan = dry_run(capsys, "--platform", "kaggle", "--hardware", "2xT4", "--config", "cpu-small")
    assert (plan["config_name"], plan["global_batch_size"]) == ("cpu-small", 16)
    plan = dry_run(capsys, "--platform", "local")
    assert plan["config_name"] == "cpu-small" and plan["global_batch_size"] == 16

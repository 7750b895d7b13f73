"""`graphmer-launch --dry-run [--json]` in-process through launch.cli.main."""

from __future__ import annotations

import json

import pytest
from platform_sim import simulate

from launch.cli import main

# The documented "Dry run JSON" keys (README). Changing this set is an interface change.
PLAN_JSON_KEYS = {
    "accelerator", "address", "assumed_hardware", "checkpoint_interval_steps", "config_hash", "config_name",
    "cpus_per_worker", "dataloader_workers", "device_memory_bytes", "device_name", "estimated_memory_bytes",
    "global_batch_size", "grad_accum_steps", "memory", "micro_batch_size", "notes", "num_devices", "num_nodes",
    "num_workers", "offload_optimizer", "platform", "precision", "resume_roots", "run_dir", "sequence_shape", "spec",
    "strategy", "time_limit_s", "usable_memory_bytes", "zero_stage",
}


@pytest.fixture
def away(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "local")


def dry_run_json(capsys, *argv: str) -> dict:
    assert main([*argv, "--dry-run", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_dry_run_json_keys_are_stable_and_sorted(away, capsys):
    plan = dry_run_json(capsys, "--config", "tiny", "--platform", "kaggle", "--hardware", "P100")
    assert set(plan) == PLAN_JSON_KEYS and list(plan) == sorted(plan)
    assert set(plan["memory"]) == {"params", "model_states_bytes", "activations_bytes", "decay_mask_bytes",
                                   "total_bytes"}
    assert (plan["platform"], plan["assumed_hardware"], plan["device_name"], plan["precision"]) == \
        ("kaggle", True, "P100", "fp16")
    assert plan["spec"]["name"] == "kaggle" and plan["time_limit_s"] == 12 * 3600 - 1800


def test_strategy_deepspeed_flag_alone_lets_the_plan_pick_the_stage(away, capsys):
    plan = dry_run_json(capsys, "--config", "cpu-small", "--platform", "kaggle", "--strategy", "deepspeed")
    assert (plan["strategy"], plan["zero_stage"], plan["num_workers"]) == ("deepspeed", 1, 2)


def test_flags_override_yaml_and_set(away, capsys):
    plan = dry_run_json(capsys, "--config", "cpu-small", "--set", "train.steps=50", "--steps", "20",
                        "--checkpoint-every", "500", "--run-dir", "/tmp/elsewhere")
    assert plan["checkpoint_interval_steps"] == 20 and plan["run_dir"] == "/tmp/elsewhere"


def test_dry_run_prints_a_table_with_the_choices_and_notes(monkeypatch, tmp_path, capsys):
    simulate(monkeypatch, tmp_path, "colab", folders=("/content",))
    assert main(["--config", "tiny", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "colab" in out and "strategy" in out
    assert "4 micro × 1 accumulation × 1 workers = 4 global" in out and "not mounted" in out


def test_impossible_override_exits_2_with_the_reason(away, capsys):
    code = main(["--config", "tiny", "--platform", "kaggle", "--precision", "bf16", "--dry-run"])
    assert code == 2
    assert "bf16 needs compute capability ≥ 8.0 and the T4" in capsys.readouterr().err


def test_the_plan_sizes_memory_from_the_built_dataset_and_says_what_it_assumed_before(away, tiny_dataset,
                                                                                     tmp_path, capsys):
    fresh = dry_run_json(capsys, "--config", "tiny", "--set", f"data.cache_dir={tmp_path / 'empty-cache'}")
    assert fresh["sequence_shape"]["measured"] is False
    assert any("assumed (the dataset " in n and "is not built yet)" in n and "25% of the 48 leaf slots" in n
               for n in fresh["notes"]), fresh["notes"]
    built = dry_run_json(capsys, "--config", "tiny", "--dataset", str(tiny_dataset))
    counts = json.loads((tiny_dataset / "manifest.json").read_text())["nodes_per_sequence"]["train"]
    shape = built["sequence_shape"]
    assert shape["measured"] is True and (shape["longest"], shape["mean"]) == (counts["max"], counts["mean"])
    assert any(f"the training split of {tiny_dataset}" in n for n in built["notes"]), built["notes"]


def test_json_without_dry_run_is_refused(away, capsys):
    assert main(["--config", "tiny", "--json"]) == 2
    assert "--json prints the plan instead of training, so it needs --dry-run" in capsys.readouterr().err

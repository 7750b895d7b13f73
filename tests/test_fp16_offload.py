"""GPU paths run for real on this CPU with 2 workers: ZeRO-2 with optimizer offload steps with DeepSpeed's
CPU Adam, saves and resumes; DeepSpeed fp16 on a CPU without native fp16 is refused by the plan with
DeepSpeed's reason."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from platform_sim import simulate

import platforms
from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import ConfigError
from launch.plan import make_plan

pytestmark = pytest.mark.slow

BASE = ["model.attention=eager", "train.log_every=1", "train.eval_every=1000", "checkpoint.every_steps=3",
        "parallel.num_workers=2", "train.global_batch_size=8", "train.lr=3e-3", "train.warmup_steps=1",
        "model.dropout=0", "model.hgat_dropout=0"]


@pytest.fixture(autouse=True)
def _inductor_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # torch sets it on first use


def on_ray(dataset: Path, run_dir: Path, *overrides: str) -> int:
    from launch import runner
    config = load_config("tiny", [*BASE, f"data.dataset_dir={dataset}", *overrides])
    return runner.run(SimpleNamespace(config=config, run_dir=str(run_dir), use_gpu=False, resume_roots=[],
                                      time_limit_s=None, address=None, platform="local", spec={"name": "local"},
                                      to_json=lambda: "{}"))


def losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if "loss" in row and not row.get("eval")]


def test_zero2_offload_trains_two_workers_with_cpu_adam_saves_and_resumes(ray_cluster, tiny_dataset, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # deepspeed sets it on import; undone after
    from deepspeed.ops.adam import DeepSpeedCPUAdam

    from graphmer_dist.model import GraphMERForPretraining
    from graphmer_dist.train.deepspeed_strategy import _optimizer
    offload = ["parallel.strategy=deepspeed", "parallel.zero_stage=2", "parallel.offload_optimizer=true",
               "train.precision=fp32"]
    config = load_config("tiny", [*BASE, *offload])
    assert isinstance(_optimizer(GraphMERForPretraining(config.model), config), DeepSpeedCPUAdam)

    run_dir = tmp_path / "offload"
    assert on_ray(tiny_dataset, run_dir, *offload, "train.steps=6") == 0
    assert sum(losses(run_dir)[-2:]) < sum(losses(run_dir)[:2]), losses(run_dir)
    manifest = json.loads((run_dir / "checkpoints" / "step-0000006" / "manifest.json").read_text())
    assert "deepspeed_optimizer.pt" in manifest["files"]  # CPU Adam's moments, gathered whole
    assert on_ray(tiny_dataset, run_dir, *offload, "train.steps=7") == 0  # continues from step 6
    assert len(losses(run_dir)) == 7 and (run_dir / "checkpoints" / "step-0000007" / "manifest.json").is_file()


def test_deepspeed_fp16_on_a_cpu_is_planned_only_with_native_fp16(monkeypatch, tmp_path):
    simulate(monkeypatch, tmp_path, "local")
    spec = platforms.resolve("local")
    config = load_config("tiny", ["train.device=cpu", "train.precision=fp16"])
    overrides = ["parallel.strategy=deepspeed", "parallel.num_workers=2"]
    if spec.fp16:  # DeepSpeed's CPU accelerator accepts fp16 where oneDNN computes it
        assert make_plan(spec, config, overrides).precision == "fp16"
        return
    with pytest.raises(ConfigError, match="avx512_fp16") as refused:
        make_plan(spec, config, overrides)
    assert "--precision fp32" in str(refused.value)
    assert make_plan(spec, config, ["parallel.strategy=ddp", "parallel.num_workers=2"]).precision == "fp16"

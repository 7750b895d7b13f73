"""DeepSpeed fp16 on a CPU without native fp16 is refused by the plan with DeepSpeed's reason. (ZeRO-2 with
optimizer offload, stepping with DeepSpeed's CPU Adam, trains, saves and resumes in tests/test_deepspeed.py.)"""

from __future__ import annotations

import pytest
from platform_sim import simulate

import platforms
from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import ConfigError
from launch.plan import make_plan


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

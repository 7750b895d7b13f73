"""The plan's ZeRO model-state and offload host-RAM estimates agree with DeepSpeed's own estimators
(deepspeed.runtime.zero), computed from the real model's parameter count and largest module."""

from __future__ import annotations

import functools

import pytest
import torch

from graphmer_dist.config_loader import load_config
from graphmer_dist.model import GraphMERForPretraining
from launch.memory_estimate import largest_layer_params, model_state_bytes, offload_ram_bytes, param_count

TOLERANCE = 0.10


@functools.cache
def real_model_sizes(name: str) -> tuple[object, int, int]:
    """(model config, total params, largest module's own params) counted on the real model, the way
    DeepSpeed's *_all_live estimators count them (tied weights once)."""
    config = load_config(name)
    with torch.device("meta"):
        model = GraphMERForPretraining(config.model)
    total = sum({id(p): p.numel() for p in model.parameters()}.values())
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    return config.model, total, largest


@pytest.mark.parametrize("name", ["cpu-small", "graphmer-se-85m"])
@pytest.mark.parametrize("workers", [1, 2, 8])
def test_zero_model_states_and_offload_ram_match_deepspeeds_estimators(name, workers, monkeypatch):
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # deepspeed sets it on import; undone after
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    model, total, largest = real_model_sizes(name)
    assert param_count(model) == total and largest_layer_params(model) == largest

    def close(ours: int, theirs: int) -> bool:
        return abs(ours - theirs) <= TOLERANCE * theirs

    cpu2, gpu2 = estimate_zero2_model_states_mem_needs(total, num_gpus_per_node=workers, cpu_offload=False)
    assert close(model_state_bytes(model, total, "deepspeed", 2, workers, mixed=True), gpu2)
    cpu2_off, gpu2_off = estimate_zero2_model_states_mem_needs(total, num_gpus_per_node=workers, cpu_offload=True)
    assert close(model_state_bytes(model, total, "deepspeed", 2, workers, mixed=True, offload_optimizer=True), gpu2_off)
    assert close(offload_ram_bytes(total, workers), cpu2_off)

    _, gpu3, _ = estimate_zero3_model_states_mem_needs(total, largest, num_gpus_per_node=workers, cpu_offload=False)
    assert close(model_state_bytes(model, total, "deepspeed", 3, workers, mixed=True), gpu3)
    cpu3_off, gpu3_off, _ = estimate_zero3_model_states_mem_needs(total, largest, num_gpus_per_node=workers,
                                                                  cpu_offload=True, cpu_offload_params=False)
    assert close(model_state_bytes(model, total, "deepspeed", 3, workers, mixed=True, offload_optimizer=True),
                 gpu3_off)
    if workers <= 4:  # beyond, ZeRO-3 counts one node's share, ZeRO-2 each rank's fp32 staging copy
        assert close(offload_ram_bytes(total, workers), cpu3_off)

"""The plan's ZeRO model-state and offload host-RAM estimates agree with DeepSpeed's own estimators
(deepspeed.runtime.zero), computed from the real model's parameter count and largest module; the
activations follow the dataset's non-empty nodes (launch/data_shape.py)."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch

from graphmer_dist.config_loader import load_config
from graphmer_dist.model import GraphMERForPretraining
from launch.data_shape import assumed_shape, measured_shape
from launch.memory_estimate import (activation_bytes, computed_nodes, decay_mask_bytes, estimate, largest_layer_params,
                                    model_state_bytes, offload_ram_bytes, param_count)

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


# The stdlib cpu-small dataset's training split (manifest `nodes_per_sequence.train`, measured).
STDLIB_TRAIN = {"mean": 86.972, "p50": 84, "p99": 148, "max": 218, "leaf_mean": 23.364, "leaf_p99": 84,
                "leaf_max": 154, "leaf_fill": 0.05215}


def shape_of(config, **nodes):
    return measured_shape(config.model, config.train, {**STDLIB_TRAIN, **nodes}, "test numbers")


def test_a_dataset_with_known_counts_gives_the_known_estimate():
    config = load_config("cpu-small")
    model, B = config.model, 16
    shape = shape_of(config)
    L = 224                                              # the longest sequence, 218 nodes, bucketed to 32
    assert computed_nodes(model, shape) == L
    assert decay_mask_bytes(model, B, shape) == 3 * B * model.num_heads * L * L * 4
    # Scored rows: masked roots (15% of 64, +1 for rounding) in MLM and SBO, plus every filled leaf (cpu-small
    # masks every tail) in MLM: B·mean + √B·(p99 − mean) rows over the batch.
    roots = 0.15 * 64 + 1
    mlm = B * (roots + 23.364) + 4 * (84 - 23.364)
    expected_logits = int(mlm + B * roots) * model.vocab_size * (2 + 4 + 4)
    expected_logits += int(mlm * L * 12)                                                         # the copy head
    unscored = activation_bytes(model, B, 2, dataclasses.replace(shape, mlm_rows_mean=0, mlm_rows_p99=0, sbo_rows=0))
    assert activation_bytes(model, B, 2, shape) - unscored == expected_logits


def test_the_estimate_moves_with_the_fill_and_the_padded_model_ignores_it():
    config = load_config("cpu-small")

    def total(shape, unpad=True):
        model = config.model if unpad else dataclasses.replace(config.model, unpad=False)
        return estimate(model, micro_batch=16, precision="bf16", strategy="single", zero_stage=0, workers=1,
                        shape=shape).total_bytes

    sparse, dense = shape_of(config), shape_of(config, max=400, leaf_mean=200, leaf_p99=300, leaf_fill=0.45)
    assert total(sparse) < total(assumed_shape(config.model)) < total(dense)
    assert computed_nodes(config.model, dense) == 416 and computed_nodes(config.model, shape_of(config, max=600)) == 512
    # Padded: L = N whatever the data; only the scored rows still follow it.
    padded = dataclasses.replace(config.model, unpad=False)
    assert computed_nodes(padded, sparse) == computed_nodes(padded, dense) == 512
    assert total(sparse, unpad=False) < total(dense, unpad=False)


def test_every_unpadded_batch_of_a_dataset_fits_the_length_its_plan_assumed(tiny_dataset):
    """The plan's L is what the model computes in its longest batch: the one holding the longest sequence."""
    from graphmer_dist.data import open_dataset
    from graphmer_dist.model.layout import compact_layout
    from launch.data_shape import find_shape

    config = load_config("tiny", [f"data.dataset_dir={tiny_dataset}"])
    shape = find_shape(config)
    assert shape.measured and str(tiny_dataset) in shape.source
    dataset, R, K = open_dataset(tiny_dataset), config.model.num_roots, config.model.leaves_per_root
    ids = np.concatenate([dataset.load_shard("train", i)["input_ids"] for i in range(len(dataset.shard_sizes("train")))])
    mask = torch.from_numpy(ids != 0)
    longest = max(compact_layout(mask[i:i + 4], R, K).length for i in range(0, len(ids), 4))
    assert longest == computed_nodes(config.model, shape)

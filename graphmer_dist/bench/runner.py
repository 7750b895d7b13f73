"""`run_benchmark`: time real training steps — real batches, the training loop's own step function.

Batches come from a dataset (the config's, built or reused from the cache, or `dataset_dir`) through
the training sampler and masking collator; each step is `graphmer_dist.train.step.optimizer_step`
with the strategy, precision and optimizer the training loop builds (single process). A few distinct
batches are prepared before timing and cycled, so data preparation is not timed; the untimed warm-up
runs each of them once at least, so every padded length L has been compiled before timing starts.

Returns one flat dict (`graphmer-launch bench --json` writes it as is). Throughput is given per flat
position (`tokens_per_s`, B·N), per non-empty node (`nonpad_tokens_per_s`) and per labelled position
(`supervised_tokens_per_s`). MFU counts the FLOPs the unpadded model needs for these batches
(bench/flops.py) against the peak of graphmer_dist/records/peaks.py: the datasheet on a GPU, measured
in this process (after the timed steps, at the run's precision) on a CPU.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from graphmer_dist.bench.peak import DTYPES, synchronize
from graphmer_dist.config import Config
from graphmer_dist.records.collector import peak_memory
from graphmer_dist.records.peaks import resolve_peak

DISTINCT_BATCHES = 4


def bench_config(config: Config, precision: str | None, attention: str | None, batch_size: int | None) -> Config:
    """The config a benchmark runs: one process, one micro-batch of `batch_size` per step."""
    batch_size = batch_size or config.train.micro_batch_size
    return config.replace(model={"attention": attention or config.model.attention},
                          train={"precision": precision or config.train.precision,
                                 "micro_batch_size": batch_size, "global_batch_size": batch_size,
                                 "dataloader_workers": 0},
                          parallel={"strategy": "single", "num_workers": 1, "zero_stage": 0})


def real_batches(config: Config, dataset_dir: str | None, count: int) -> list[tuple[dict[str, torch.Tensor], int]]:
    """The first `count` training micro-batches of the dataset, masked as the training loop masks them."""
    from graphmer_dist.data import build_or_reuse, open_dataset
    from graphmer_dist.masking import MaskingCollator
    from graphmer_dist.train.batches import ShardRows, TrainBatches
    from graphmer_dist.train.sampler import ShardedSampler

    dataset = open_dataset(dataset_dir or build_or_reuse(config)[0])
    dataset.check_compatible(config.model)
    rows = ShardRows(dataset, "train")
    sampler = ShardedSampler(rows.sizes, config.train.seed, config.train.global_batch_size, rank=0, world_size=1)
    collator = MaskingCollator.for_dataset(config.model, config.train, dataset)
    batches = TrainBatches(rows, sampler, collator, config.train.micro_batch_size, config.train.seed)
    return [item for _ in range(count) for item in batches.step_batches()]


def run_benchmark(config: Config, steps: int, warmup: int, precision: str | None = None,
                  attention: str | None = None, batch_size: int | None = None,
                  dataset_dir: str | None = None) -> dict[str, Any]:
    from graphmer_dist.model import GraphMERForPretraining
    from graphmer_dist.train.distributed import WorldInfo
    from graphmer_dist.train.strategy import build_strategy
    from graphmer_dist.train.precision import build_precision, resolve_device
    from graphmer_dist.train.step import optimizer_step

    config = bench_config(config, precision, attention, batch_size)
    device = resolve_device(config.train.device)
    precision = build_precision(config.train.precision, device)
    batches = real_batches(config, dataset_dir, DISTINCT_BATCHES)
    torch.manual_seed(config.train.seed)
    model = GraphMERForPretraining(config.model, config.train)
    strategy = build_strategy(model, config, precision, WorldInfo(0, 1))
    strategy.raw_model.train()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    warmup = max(warmup, len(batches))
    done, times = [], []
    for step in range(warmup + steps):
        start = time.perf_counter()
        result = optimizer_step(strategy, precision, iter([batches[step % len(batches)]]), config)
        synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
            done.append(result)
    memory = peak_memory(device.type)["peak_memory_bytes"]
    device_name = _device_name(device)
    peak, peak_source = resolve_peak(device_name, precision.name, device.type)
    seconds = sum(times)
    tokens, nonpad = sum(d.tokens for d in done), sum(d.nonpad_tokens for d in done)
    achieved = sum(d.flops for d in done) / seconds
    return {
        "tokens_per_s": tokens / seconds,
        "nonpad_tokens_per_s": nonpad / seconds,
        "supervised_tokens_per_s": sum(d.supervised_tokens for d in done) / seconds,
        "nonpad_fraction": nonpad / tokens,
        "unpad": config.model.unpad,
        "flops_per_token": achieved * seconds / tokens,  # needed training FLOPs per flat position
        "achieved_flops": achieved,
        "peak_flops": peak,
        "peak_dtype": str(DTYPES[precision.name]).removeprefix("torch."),
        "peak_source": peak_source,
        "mfu": achieved / peak if peak else None,
        "params": sum(p.numel() for p in model.parameters()),
        "step_time_p50_s": float(np.percentile(times, 50)),
        "step_time_p90_s": float(np.percentile(times, 90)),
        "peak_memory_bytes": memory,
        "device": device_name,
        "precision": precision.name,
        "attention": config.model.attention,
        "batch_size": config.train.micro_batch_size,
        "seq_len": config.model.seq_len,
        "steps": steps,
        "warmup_steps": warmup,
        "threads": torch.get_num_threads(),
        "step_times_s": times,  # per timed step: benchmark records take percentiles of these
        "step_counts": [{"tokens": d.tokens, "nonpad_tokens": d.nonpad_tokens, "samples": d.samples,
                         "supervised_tokens": d.supervised_tokens, "flops": d.flops} for d in done],
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu:{torch.get_num_threads()}-threads"

"""`run_benchmark`: time forward + backward + optimizer steps of the real model on synthetic batches.

Returns one flat dict (the `throughput` fields of a benchmark record; `graphmer-launch bench --json`
writes it as is). MFU is against the peak of graphmer_dist/records/peaks.py, as in the records: the
datasheet on a GPU, measured in this process (after the timed steps, at the run's precision) on a CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import sys
import time
from typing import Any

import numpy as np
import torch

from graphmer_dist.bench.flops import training_flops_per_token
from graphmer_dist.bench.peak import DTYPES, synchronize
from graphmer_dist.bench.synthetic import synthetic_batches
from graphmer_dist.config import Config
from graphmer_dist.errors import ConfigError
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.records.peaks import resolve_peak
from graphmer_dist.train.precision import resolve_precision

DISTINCT_BATCHES = 4


def resolve_device(config: Config) -> torch.device:
    if config.train.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'train.device': 'cuda' was asked for but torch sees no GPU; "
                          "use --set train.device=cpu (or auto)")
    return torch.device("cuda" if config.train.device != "cpu" and torch.cuda.is_available() else "cpu")


def autocast_for(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def make_optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Optimizer:
    """AdamW as in training: no weight decay on biases and LayerNorm (1-D parameters). fused=True:
    torch's single-kernel AdamW (CPU and CUDA) instead of a chain of foreach ops per step."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.train.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    t = config.train
    return torch.optim.AdamW(groups, lr=t.lr, betas=(t.adam_beta1, t.adam_beta2), eps=t.adam_eps, fused=True)


def run_benchmark(config: Config, steps: int, warmup: int, precision: str = "auto",
                  attention: str | None = None, batch_size: int | None = None) -> dict[str, Any]:
    device = resolve_device(config)
    precision = resolve_precision(precision, device)
    model_config = dataclasses.replace(config.model, attention=attention or config.model.attention)
    batch_size = batch_size or config.train.micro_batch_size
    torch.manual_seed(config.train.seed)
    model = GraphMERForPretraining(model_config, config.train).to(device).train()
    optimizer = make_optimizer(model, config)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    batches = [{k: v.to(device) for k, v in b.items()}
               for b in synthetic_batches(model_config, config.train, batch_size, DISTINCT_BATCHES)]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    times = timed_steps(model, optimizer, scaler, batches, config.train.grad_clip, device, precision,
                        steps, warmup)
    peak_memory = _peak_memory_bytes(device)
    peak, peak_source = resolve_peak(_device_name(device), precision, device.type)
    tokens = batch_size * model_config.seq_len
    flops_per_token = training_flops_per_token(model_config, config.train)
    tokens_per_s = tokens * len(times) / sum(times)
    achieved = tokens_per_s * flops_per_token
    return {
        "tokens_per_s": tokens_per_s,
        "flops_per_token": flops_per_token,
        "achieved_flops": achieved,
        "peak_flops": peak,
        "peak_dtype": str(DTYPES[precision]).removeprefix("torch."),
        "peak_source": peak_source,
        "mfu": achieved / peak if peak else None,
        "params": sum(p.numel() for p in model.parameters()),
        "step_time_p50_s": float(np.percentile(times, 50)),
        "step_time_p90_s": float(np.percentile(times, 90)),
        "peak_memory_bytes": peak_memory,
        "device": _device_name(device),
        "precision": precision,
        "attention": model_config.attention,
        "batch_size": batch_size,
        "seq_len": model_config.seq_len,
        "steps": steps,
        "warmup_steps": warmup,
        "threads": torch.get_num_threads(),
        "step_times_s": times,  # per timed step: benchmark records take percentiles of these
    }


def timed_steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                batches: list[dict[str, torch.Tensor]], grad_clip: float, device: torch.device, precision: str,
                steps: int, warmup: int) -> list[float]:
    """Seconds of each of `steps` full training steps (forward, backward, clip, AdamW) after `warmup`."""
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        with autocast_for(device, precision):
            loss = model(**batches[step % len(batches)])["loss"]
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return times


def _peak_memory_bytes(device: torch.device) -> int:
    """CUDA: max allocated by torch. CPU: the process's peak resident set (the only honest CPU number;
    it includes the interpreter and libraries, ~0.5 GB, and never goes down within a process)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu:{torch.get_num_threads()}-threads"

"""`graphmer-launch bench`: time training steps of the model on synthetic batches of the config's
exact shapes and report throughput and MFU (datasheet peak on a GPU, measured matmul peak on a CPU).

    graphmer-launch bench [--config FILE] [--set k=v ...] [--steps N] [--warmup N] [--precision P]
                          [--attention flex|eager] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from launch.common_args import add_config_args, config_from_args

DEFAULT_CONFIG = "cpu-small"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch bench",
                                description="Benchmark training steps (forward, backward, optimizer) on real batches.")
    add_config_args(p, default_config=DEFAULT_CONFIG)
    p.add_argument("--steps", type=int, help="timed steps (default: benchmark.steps of the config)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default: benchmark.warmup_steps)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="default: train.precision ('auto' = bf16 where the device has it)")
    p.add_argument("--attention", choices=("flex", "eager"), help="attention kernel (default: model.attention)")
    p.add_argument("--dataset", metavar="DIR",
                   help="a built dataset (default: the config's, built from the stdlib or reused from the cache)")
    p.add_argument("--json", metavar="FILE", help="also write the result object to FILE")
    p.add_argument("--suite", action="store_true",
                   help="run the standard cross-platform suite instead (see `bench --suite --help`)")
    return p


def flag_overrides(args: argparse.Namespace) -> list[str]:
    mapping = {"steps": "benchmark.steps", "warmup": "benchmark.warmup_steps",
               "precision": "train.precision", "attention": "model.attention"}
    return [f"{key}={getattr(args, attr)}" for attr, key in mapping.items() if getattr(args, attr) is not None]


def main(argv: list[str]) -> int:
    if "--suite" in argv:  # the suite has its own flags and writes benchmark records
        from launch import bench_suite

        return bench_suite.main([a for a in argv if a != "--suite"])
    args = build_parser().parse_args(argv)
    config = config_from_args(args, flag_overrides(args))
    import torch  # deferred: `--help` stays fast

    from graphmer_dist.bench import run_benchmark
    from platforms.probe import probe_cpus

    torch.set_num_threads(config.train.num_threads or probe_cpus())
    result = run_benchmark(config, config.benchmark.steps, config.benchmark.warmup_steps,
                           config.train.precision, config.model.attention, dataset_dir=args.dataset)
    result["config"] = config.name
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return 0


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"graphmer-launch bench — {result['config']}", show_header=False)
    achieved_gflops = result["achieved_flops"] / 1e9
    mfu = (f"{result['mfu']:.1%} of {result['peak_flops'] / 1e9:,.0f} GFLOP/s ({result['peak_source']})"
           if result["mfu"] is not None else f"n/a (no peak: {result['peak_source']})")
    rows = [
        ("tokens/s (all N positions)", f"{result['tokens_per_s']:,.0f}"),
        ("non-empty tokens/s", f"{result['nonpad_tokens_per_s']:,.0f} ({result['nonpad_fraction']:.1%} of positions"
                               f" non-empty; unpad={result['unpad']})"),
        ("supervised tokens/s", f"{result['supervised_tokens_per_s']:,.0f}"),
        ("MFU", mfu),
        ("achieved (needed FLOPs)", f"{achieved_gflops:,.1f} GFLOP/s ({result['flops_per_token'] / 1e6:,.1f} MFLOP/position)"),
        ("step time p50 / p90", f"{result['step_time_p50_s']:.3f} s / {result['step_time_p90_s']:.3f} s"),
        ("peak memory", f"{result['peak_memory_bytes'] / 2**20:,.0f} MiB"),
        ("parameters", f"{result['params']:,}"),
        ("device / precision", f"{result['device']} / {result['precision']} / attention={result['attention']}"),
        ("batch × seq", f"{result['batch_size']} × {result['seq_len']}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)

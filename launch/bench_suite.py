"""`graphmer-launch bench --suite`: the standard cross-platform benchmark.

Fixed shapes and step counts per shipped config, so a number from Kaggle and one from a laptop
measure the same work. Each entry runs `run_benchmark` (real batches of the config's dataset, the
training loop's step function) and becomes a benchmark record of the same schema as a training
run's (`kind: "bench"`), appended to `<out>/benchmarks.jsonl` and to `--bench-store`.
The larger configs run only where there is a GPU: on a 2-core CPU one of their steps takes minutes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from graphmer_dist.config_loader import load_config
from graphmer_dist.records import RunBenchmark, append_record

SUITE_VERSION = 2
"""Bump when an entry's shapes, steps or batches change: records of different suite versions do not
compare. 2: real dataset batches, unpadded model, MFU on needed FLOPs."""


@dataclass(frozen=True)
class SuiteEntry:
    config: str
    batch_size: int
    warmup: int
    steps: int
    gpu_only: bool = False


SUITE: tuple[SuiteEntry, ...] = (
    SuiteEntry("tiny", batch_size=4, warmup=3, steps=20),
    SuiteEntry("cpu-small", batch_size=8, warmup=2, steps=10),
    SuiteEntry("graphmert-base", batch_size=16, warmup=5, steps=30, gpu_only=True),
    SuiteEntry("graphmer-se-85m", batch_size=16, warmup=5, steps=30, gpu_only=True),
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch bench --suite",
                                description="Run the standard benchmark suite and write benchmark records.")
    p.add_argument("--out", default="bench-suite", help="folder for benchmarks.jsonl (default: ./bench-suite)")
    p.add_argument("--bench-store", help="also put every record here (folder or s3://)")
    p.add_argument("--s3-endpoint", help="endpoint for S3-compatible stores (MinIO, moto)")
    p.add_argument("--platform", default="auto", help="platform recorded with the results (default: detected)")
    p.add_argument("--hardware", help="the platform's hardware, e.g. 2xT4 (Kaggle)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--only", nargs="+", metavar="CONFIG", help="run only these entries of the suite")
    p.add_argument("--price-per-hour", type=float, default=0.0, help="USD per hour, for tokens per dollar")
    p.add_argument("--dataset", metavar="DIR", help="a built dataset for the entries run (its shapes must fit "
                   "them; use with --only). Default: each config's own, built or reused from the cache")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from launch.cmd_report import print_table
    from graphmer_dist.records.report import build_rows
    from platforms.probe import probe_cpus

    torch.set_num_threads(probe_cpus())  # as `bench` does: every core the container gives us
    has_gpu = torch.cuda.is_available()
    platform = _platform(args.platform, args.hardware)
    records = []
    for entry in selected(args.only, has_gpu):
        record = run_entry(entry, platform, args.precision, args.price_per_hour, args.dataset)
        append_record(args.out, record, store=args.bench_store, endpoint=args.s3_endpoint)
        records.append(record)
    print_table(build_rows(records))
    return 0


def selected(only: list[str] | None, has_gpu: bool) -> list[SuiteEntry]:
    from graphmer_dist.errors import ConfigError

    names = [e.config for e in SUITE]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ConfigError(f"bench --suite --only: unknown entr{'ies' if len(unknown) > 1 else 'y'} {unknown}; "
                          f"the suite has {names}")
    return [e for e in SUITE if (not only or e.config in only) and (has_gpu or not e.gpu_only)]


def run_entry(entry: SuiteEntry, platform: dict[str, Any], precision: str, price_per_hour: float,
              dataset_dir: str | None = None) -> dict:
    """Benchmark one entry and turn the result into a record."""
    from graphmer_dist.bench import run_benchmark

    config = load_config(entry.config, [f"benchmark.warmup_steps={entry.warmup}", f"benchmark.steps={entry.steps}",
                                        f"benchmark.price_per_hour={price_per_hour}",
                                        f"train.micro_batch_size={entry.batch_size}",
                                        f"train.global_batch_size={entry.batch_size}"])
    result = run_benchmark(config, entry.steps, entry.warmup, precision, batch_size=entry.batch_size,
                           dataset_dir=dataset_dir)
    device_type = "cpu" if result["device"].startswith("cpu") else "cuda"
    bench = RunBenchmark(config, platform=platform, precision=result["precision"], device_type=device_type,
                         kind="bench", warmup_steps=0, flops_per_token=result["flops_per_token"],
                         peak_flops=result["peak_flops"] if device_type == "cpu" else None)
    for step, (seconds, done) in enumerate(zip(result["step_times_s"], result["step_counts"]), start=1):
        bench.step(step, seconds, done["tokens"], done["samples"], nonpad_tokens=done["nonpad_tokens"],
                   supervised_tokens=done["supervised_tokens"], flops=done["flops"])
    record = bench.finish({})
    record.update(time_to_first_step_s=None, peak_memory_bytes=result["peak_memory_bytes"],
                  suite={"version": SUITE_VERSION, "entry": entry.config, "batch_size": entry.batch_size,
                         "warmup_steps": entry.warmup, "steps": entry.steps, "attention": result["attention"],
                         "threads": result["threads"]})
    return record


def _platform(name: str, hardware: str | None) -> dict[str, Any]:
    import platforms

    return platforms.resolve(name, hardware).to_dict()

"""`graphmer-launch [--platform P] [...]`: detect or assume a platform, plan, print the plan, train.

Flow: platform adapter → spec (platforms/) → plan (launch/plan.py) → printed → `launch.runner.run`,
which runs 'single' in this process without Ray and 'ddp'/'deepspeed' through Ray.
"""

from __future__ import annotations

import argparse

from typing import Any

import platforms
from graphmer_dist.config import Config
from graphmer_dist.config_loader import load_config, parse_overrides
from graphmer_dist.errors import ConfigError
from launch.common_args import add_config_args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch", description="Train GraphMER-SE on a platform.")
    p.add_argument("--platform", default="auto", choices=("auto", *sorted(platforms.REGISTRY)),
                   help="where this runs; 'auto' detects it (default)")
    p.add_argument("--hardware", help="plan for this hardware of the platform, e.g. 2xT4 or P100 (Kaggle)")
    p.add_argument("--address", help="Ray address for --platform cluster (default: RAY_ADDRESS or 'auto')")
    add_config_args(p)  # none given: launch/platform_defaults.py picks one for the platform's devices
    p.add_argument("--corpus", nargs="+", metavar="PATH", help="source files/folders (default: the stdlib)")
    p.add_argument("--dataset", metavar="DIR", help="an already built dataset folder")
    p.add_argument("--strategy", choices=("single", "ddp", "deepspeed"))
    p.add_argument("--num-workers", type=int)
    p.add_argument("--zero-stage", type=int, choices=(1, 2, 3))
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--steps", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--run-dir", help="run folder: a local path or s3://bucket/prefix")
    p.add_argument("--resume", help="auto (newest valid checkpoint), never, or a checkpoint path")
    p.add_argument("--seed", type=int)
    p.add_argument("--time-limit", help="stop with a checkpoint before this budget ends, e.g. 11h30m")
    p.add_argument("--bench-store", help="also append the run's benchmark record here (folder or s3://)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    p.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    return p


def flag_overrides(args: argparse.Namespace) -> list[str]:
    """Dedicated flags as `section.key=value` overrides (they win over --set and YAML)."""
    mapping = {
        "strategy": "parallel.strategy", "num_workers": "parallel.num_workers", "zero_stage": "parallel.zero_stage",
        "precision": "train.precision", "steps": "train.steps", "seed": "train.seed",
        "time_limit": "train.time_limit", "checkpoint_every": "checkpoint.every_steps",
        "run_dir": "checkpoint.run_dir", "resume": "checkpoint.resume", "bench_store": "benchmark.store",
    }
    # getattr: commands that take a subset of these flags (sweep) share this mapping
    out = [f"{key}={getattr(args, attr)}" for attr, key in mapping.items() if getattr(args, attr, None) is not None]
    if args.corpus:
        out.append("data.corpus=" + ",".join(args.corpus))
    if args.dataset:
        out.append(f"data.dataset_dir={args.dataset}")
    return out


def split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(for the config loader, for the plan), both typed. The plan decides the parallel layout, so those
    keys skip the loader's cross-checks (e.g. `--strategy deepspeed` alone is fine: the plan picks the stage)."""
    from launch.plan import PLAN_DECIDED_KEYS

    for_plan = {k: v for k, v in overrides.items() if k in PLAN_DECIDED_KEYS}
    return {k: v for k, v in overrides.items() if k not in for_plan}, for_plan


def load_for_plan(args: argparse.Namespace, config_name: str | None = None) -> tuple[Config, dict[str, Any]]:
    """The typed config (`config_name`, else --config) and the typed overrides (the plan's explicit
    choices): --set and flags parsed once."""
    overrides = parse_overrides([*args.overrides, *flag_overrides(args)])
    for_loader, _ = split_overrides(overrides)
    return load_config(config_name or args.config, for_loader), overrides


def main(argv: list[str]) -> int:
    from launch.data_shape import find_shape
    from launch.plan import make_plan
    from launch.platform_defaults import default_config
    from launch.plan_view import print_plan

    args = build_parser().parse_args(argv)
    if args.json and not args.dry_run:
        raise ConfigError("--json prints the plan instead of training, so it needs --dry-run")
    spec = platforms.resolve(args.platform, args.hardware, args.address)
    default = None if args.config else default_config(spec)
    config, overrides = load_for_plan(args, args.config or default.config)
    plan = make_plan(spec, config, overrides, default, find_shape(config))
    if args.json:
        print(plan.to_json())
    else:
        print_plan(plan)
    if args.dry_run:
        return 0
    from launch import runner  # lazy: imports torch (and Ray for ddp/deepspeed)

    return int(runner.run(plan) or 0)

"""`graphmer-launch sweep --config C --grid train.lr=1e-4,3e-4 [--grid ...] --run-dir SWEEP`: a grid
(times --samples) of training runs on Ray Tune, ranked by a validation metric.

Each trial is a normal single-process run folder, `<SWEEP>/trials/<trial id>/`, with its checkpoints,
metrics.jsonl and benchmark record (so `graphmer-launch report SWEEP` compares the trials). The
dataset is built once, here, before any trial starts. Tune keeps its state in `<SWEEP>/tune/`; running
the same command again after a stop resumes the sweep (`Tuner.restore`): finished trials are kept
and unfinished ones continue from their newest checkpoint. The end prints a ranked table and writes
`<SWEEP>/sweep.json`, one entry per trial. `--scheduler asha` stops poor trials early, judged at
each checkpoint (the trial reports the metric of its latest validation there).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path
from typing import Any

from graphmer_dist.config import Config
from graphmer_dist.config_loader import apply_overrides, parse_overrides
from graphmer_dist.errors import ConfigError
from launch.common_args import add_config_args

SWEEP_FILE = "sweep.json"
DEFAULT_METRIC = "val_tail_mrr"  # link prediction on the validation facts, logged at every validation


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch sweep", description="A grid of training runs on Ray Tune.")
    add_config_args(p, default_config="cpu-small")
    p.add_argument("--grid", action="append", required=True, metavar="SECTION.KEY=V1,V2,...",
                   help="values to try for one config key (repeatable; the sweep is their product)")
    p.add_argument("--samples", type=int, default=1, help="runs per grid point (default 1)")
    p.add_argument("--scheduler", choices=("fifo", "asha"), default="fifo",
                   help="asha stops trials whose metric lags at a checkpoint (default: run all to the end)")
    p.add_argument("--metric", default=DEFAULT_METRIC, help=f"metric that ranks the trials (default {DEFAULT_METRIC})")
    p.add_argument("--mode", choices=("min", "max"), help="default: min for losses, max otherwise")
    p.add_argument("--run-dir", required=True, help="the sweep's folder (local); rerun to resume a stopped sweep")
    p.add_argument("--corpus", nargs="+", metavar="PATH", help="source files/folders (default: the stdlib)")
    p.add_argument("--dataset", metavar="DIR", help="an already built dataset folder")
    p.add_argument("--steps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs (and torch threads) per trial (default 1)")
    p.add_argument("--max-concurrent", type=int, default=0, help="trials at once (default: as many as fit)")
    p.add_argument("--address", help="Ray cluster address (default: a local Ray)")
    return p


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """{"train.lr": [1e-4, 3e-4], ...}, each value typed by the config loader."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not values.strip():
            raise ConfigError(f"--grid '{item}' is not of the form section.key=v1,v2 (e.g. train.lr=1e-4,3e-4)")
        if key.startswith("parallel.") or key == "checkpoint.run_dir":
            raise ConfigError(f"--grid {key}: trials are single-process runs in their own folders; sweep model, "
                              "data or train keys")
        grid[key] = [parse_overrides([f"{key}={value.strip()}"])[key] for value in values.split(",")]
    return grid


def trial_configs(base: Config, grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every grid point, checked now (one error before any trial starts, not one per trial)."""
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    for point in points:
        apply_overrides(base, point)
    return points


def base_config(args: argparse.Namespace) -> tuple[Config, Any]:
    """The plan's config for one single-process trial, and the platform spec."""
    import platforms
    from launch.cmd_train import load_for_plan
    from launch.data_shape import find_shape
    from launch.plan import make_plan

    args.overrides = [*args.overrides, "parallel.strategy=single", "parallel.num_workers=1",
                      f"parallel.cpus_per_worker={args.cpus_per_trial}", f"train.num_threads={args.cpus_per_trial}"]
    config, overrides = load_for_plan(args)
    spec = platforms.resolve("cluster" if args.address else "local", None, args.address)
    plan = make_plan(spec, config, overrides, shape=find_shape(config))
    return plan.config, spec


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.samples < 1 or args.cpus_per_trial < 1:
        raise ConfigError("--samples and --cpus-per-trial must be at least 1")
    sweep_dir = os.path.abspath(os.path.expanduser(args.run_dir))
    if "://" in args.run_dir:
        raise ConfigError(f"--run-dir {args.run_dir}: a sweep's folder must be local (Tune keeps its state there)")
    grid = parse_grid(args.grid)
    base, spec = base_config(args)
    points = trial_configs(base, grid)
    mode = args.mode or ("min" if "loss" in args.metric else "max")
    print(f"sweep: {len(points)} grid point(s) × {args.samples} sample(s) of {base.name}, "
          f"{base.train.steps} steps each, ranked by {args.metric} ({mode}); folder {sweep_dir}", flush=True)

    from launch.runner import prepare_dataset
    from launch.sweep_tune import run_tune
    dataset_dir = prepare_dataset(base)
    trials = run_tune(base, grid, str(dataset_dir), sweep_dir, dict(spec.to_dict()), args, mode)
    ranked = rank(trials, args.metric, mode)
    Path(sweep_dir, SWEEP_FILE).write_text(json.dumps({"metric": args.metric, "mode": mode, "grid": grid,
                                                       "trials": ranked}, indent=1, sort_keys=True) + "\n")
    print_ranking(ranked, args.metric, list(grid))
    print(f"sweep results in {os.path.join(sweep_dir, SWEEP_FILE)}; compare the runs with "
          f"`graphmer-launch report {sweep_dir}`", flush=True)
    return 0 if all(t["status"] != "error" for t in ranked) else 1


def rank(trials: list[dict], metric: str, mode: str) -> list[dict]:
    """Best first; trials without the metric (errors, stopped before validating) last."""
    def key(trial: dict) -> tuple:
        value = trial.get(metric)
        if not isinstance(value, (int, float)):
            return (1, 0.0)
        return (0, value if mode == "min" else -value)
    return [{**trial, "rank": i} for i, trial in enumerate(sorted(trials, key=key), 1)]


def print_ranking(ranked: list[dict], metric: str, keys: list[str]) -> None:
    header = ["rank", *keys, metric, "step", "status", "run folder"]
    rows = [[str(t["rank"]), *(f"{t['params'].get(k)}" for k in keys),
             f"{t[metric]:.4f}" if isinstance(t.get(metric), float) else "-", str(t.get("step", "-")),
             t["status"], t["run_dir"]] for t in ranked]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip(), flush=True)

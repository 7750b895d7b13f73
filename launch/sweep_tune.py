"""The Ray Tune side of `graphmer-launch sweep` (launch/cmd_sweep.py): trials, restore, results.

A trial is the ordinary training loop in the trial's process (strategy 'single'), in a run folder
named after its grid point, `<SWEEP>/trials/train.lr=0.0001,train.warmup_steps=30`: a restored sweep
finds the same folder again and the loop resumes from its newest checkpoint. At each checkpoint the
trial reports its metrics to Tune (`TuneHooks`), which is where ASHA may stop it.
"""

from __future__ import annotations

import logging
import math
import os
import re
from typing import Any

from ray import tune

from graphmer_dist.config import Config
from graphmer_dist.train.hooks import TrainHooks

TUNE_FOLDER = "tune"
TUNE_KEYS = {"step", "config", "timestamp", "done", "training_iteration", "date", "time_this_iter_s", "time_total_s",
             "pid", "hostname", "node_ip", "time_since_restore", "iterations_since_restore", "checkpoint_dir_name",
             "exit_code", "time"}
"""What Tune adds to every result (and our row's bookkeeping): left out of sweep.json's trial entries."""


def trial_folder(sweep_dir: str, point: dict[str, Any]) -> str:
    name = ",".join(f"{key}={value}" for key, value in sorted(point.items()))
    return os.path.join(sweep_dir, "trials", re.sub(r"[^\w.=,+-]", "_", name))


class TuneHooks:
    """The run folder's own hooks (checkpoints, resume) plus a Tune report at every checkpoint."""

    def __init__(self, inner: TrainHooks, metric: str) -> None:
        self.inner, self.metric = inner, metric

    def resume_checkpoint(self) -> str | None:
        return self.inner.resume_checkpoint()

    def staging_dir(self, step: int, rank: int) -> str:
        return self.inner.staging_dir(step, rank)

    def stop_requested(self) -> bool:
        return self.inner.stop_requested()

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        self.inner.report(metrics, checkpoint_dir)
        if isinstance(metrics.get(self.metric), (int, float)):  # Tune refuses results without the metric
            tune.report({k: v for k, v in metrics.items() if isinstance(v, (int, float))
                         and not (isinstance(v, float) and math.isnan(v))})


def run_trial(point: dict[str, Any], *, base: dict, dataset_dir: str, sweep_dir: str, platform: dict,
              metric: str) -> None:
    from graphmer_dist.config_loader import apply_overrides, config_from_dict
    from graphmer_dist.train.loop import local_hooks, train_loop_per_worker
    from graphmer_dist.train.setup import write_run_files
    from graphmer_dist.train.sinks import prepare_sinks

    run_dir = trial_folder(sweep_dir, point)
    config = apply_overrides(config_from_dict(base), point).replace(checkpoint={"run_dir": run_dir, "resume": "auto"})
    write_run_files(run_dir, config, None)
    prepare_sinks(config, run_dir)
    job = {"config": config.to_dict(), "dataset_dir": dataset_dir, "run_dir": run_dir, "resume": "auto",
           "platform": platform}
    train_loop_per_worker(job, TuneHooks(local_hooks(job), metric))


class TrialLines(tune.Callback):
    """One console line per trial event (Tune's own tables are off: verbose=0)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        print(f"trial {_label(trial.config)}: started", flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        value = (trial.last_result or {}).get(self.metric)
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        step = (trial.last_result or {}).get("step", "-")
        print(f"trial {_label(trial.config)}: done at step {step}, {self.metric} {shown}", flush=True)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        print(f"trial {_label(trial.config)}: failed; its log is in Ray's session folder", flush=True)


def _label(point: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(point.items()))


def run_tune(base: Config, grid: dict[str, list[Any]], dataset_dir: str, sweep_dir: str, platform: dict,
             args, mode: str) -> list[dict]:
    """Runs (or resumes) the sweep; one dict per trial: params, run_dir, status, step and its metrics."""
    from launch.ray_driver import connect
    connect(args.address)
    logging.getLogger("ray.tune").setLevel(logging.WARNING)  # its "wrote the experiment state" notices
    space = {key: tune.grid_search(values) for key, values in grid.items()}
    if args.samples > 1:  # repeated runs of a point differ by their seed
        space["train.seed"] = tune.grid_search([base.train.seed + i for i in range(args.samples)])
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, base=base.to_dict(), dataset_dir=dataset_dir, sweep_dir=sweep_dir,
                             platform=platform, metric=args.metric),
        {"cpu": args.cpus_per_trial})
    path = os.path.join(sweep_dir, TUNE_FOLDER)
    if tune.Tuner.can_restore(path):
        print(f"resuming the sweep in {path}", flush=True)
        tuner = tune.Tuner.restore(path, trainable, resume_errored=True)
    else:
        scheduler = None
        if args.scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler
            scheduler = ASHAScheduler(time_attr="step", max_t=base.train.steps, reduction_factor=2,
                                      grace_period=min(base.checkpoint.every_steps, base.train.steps))
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(metric=args.metric, mode=mode, scheduler=scheduler,
                                        max_concurrent_trials=args.max_concurrent or None),
            run_config=tune.RunConfig(name=TUNE_FOLDER, storage_path=sweep_dir, verbose=0,
                                      callbacks=[TrialLines(args.metric)]))
    results = tuner.fit()
    trials = []
    for result in results:
        metrics = dict(result.metrics or {})
        step = metrics.get("step")
        status = "error" if result.error else ("done" if step == base.train.steps else "stopped early")
        trials.append({"params": dict(result.config), "run_dir": trial_folder(sweep_dir, result.config),
                       "status": status, "step": step,
                       **{k: v for k, v in metrics.items() if k not in TUNE_KEYS and isinstance(v, (int, float))}})
    return trials

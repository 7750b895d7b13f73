"""`run(plan) -> exit code`: dataset, run folder files, then the loop in-process or through Ray.

'single' runs in this process and never imports ray (tests/test_train_runner.py checks it in a
subprocess); 'ddp' and 'deepspeed' go through launch/ray_driver.py. Exit codes: 0 done,
75 (`EXIT_PREEMPTED`) stopped early with a checkpoint — run the same command again to continue.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from graphmer_dist.config import Config
from graphmer_dist.train.preemption import EXIT_PREEMPTED


def run(plan) -> int:
    config = _with_worker_threads(_with_time_limit(plan.config, plan.time_limit_s))
    dataset_dir = prepare_dataset(config)
    from graphmer_dist.train.setup import write_run_files
    from graphmer_dist.train.sinks import prepare_sinks
    write_run_files(plan.run_dir, config, _plan_dict(plan))
    prepare_sinks(config, plan.run_dir)
    job = {"config": config.to_dict(), "dataset_dir": str(dataset_dir), "run_dir": plan.run_dir,
           "resume": config.checkpoint.resume, "resume_roots": list(plan.resume_roots),
           "platform": dict(plan.spec)}
    if config.parallel.strategy == "single":
        code, metrics = _run_in_process(job, config)
    else:
        from launch.ray_driver import run_with_ray
        code, metrics = run_with_ray(job, plan.use_gpu, plan.address)
    print(summary(code, metrics, plan.run_dir, config), flush=True)
    return code


def prepare_dataset(config: Config) -> Path:
    """An existing dataset folder (data.dataset_dir with a manifest) or one built/reused from the corpus,
    checked against the model here, so a mismatch is one clear error instead of Ray retrying workers."""
    from graphmer_dist.data import build_dataset, open_dataset
    given = config.data.dataset_dir
    if given and (Path(given).expanduser() / "manifest.json").is_file():
        folder = Path(given).expanduser()
    else:
        folder = build_dataset(config)
    open_dataset(folder).check_compatible(config.model)
    return folder


def _run_in_process(job: dict, config: Config) -> tuple[int, dict]:
    from graphmer_dist.train.loop import local_hooks, train_loop_per_worker
    hooks = local_hooks(job)
    code = train_loop_per_worker(job, hooks)
    return code, hooks.last_metrics


def _with_time_limit(config: Config, time_limit_s: float | None) -> Config:
    """The platform's budget applies unless the config sets its own."""
    if time_limit_s is None or config.train.time_limit:
        return config
    return config.replace(train={"time_limit": str(int(time_limit_s))})


def _with_worker_threads(config: Config) -> Config:
    """Ray gives each worker OMP_NUM_THREADS=1; use the CPUs it reserved unless the config says."""
    if config.parallel.strategy == "single" or config.train.num_threads:
        return config
    return config.replace(train={"num_threads": config.parallel.cpus_per_worker})


def _plan_dict(plan) -> dict | None:
    to_json = getattr(plan, "to_json", None)
    if to_json is None:
        return None
    value = to_json()
    return json.loads(value) if isinstance(value, str) else value


def summary(code: int, metrics: dict, run_dir: str, config: Config) -> str:
    step = metrics.get("step", "?")
    loss = metrics.get("loss")
    loss_text = f", final loss {loss:.4f}" if isinstance(loss, float) else ""
    where = os.path.join(run_dir, "checkpoints")
    if code == EXIT_PREEMPTED:
        return (f"stopped early at step {step}/{config.train.steps}{loss_text} (exit {code}); checkpoint in "
                f"{where}. Run the same command again (--resume auto) to continue.")
    return (f"trained {step}/{config.train.steps} steps{loss_text}; checkpoints in {where}; metrics in "
            f"{os.path.join(run_dir, 'metrics.jsonl')}. To continue training, raise --steps and rerun with "
            f"--run-dir {run_dir} (--resume auto).")

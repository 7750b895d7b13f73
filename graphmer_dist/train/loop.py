"""`train_loop_per_worker(job, hooks)`: the entry point every process runs, with or without Ray.

`job` = {"config": config.to_dict(), "dataset_dir": str, "run_dir": str, "resume": str,
optional "resume_roots": [str], "platform": dict}. Without hooks the run folder is local and
checkpoints are published by rename (`LocalHooks`); Ray passes its own hooks from launch/.
Returns 0 when train.steps were done, `EXIT_PREEMPTED` after a signal or the time limit.
"""

from __future__ import annotations

from graphmer_dist.config_loader import config_from_dict
from graphmer_dist.train.hooks import LocalHooks, TrainHooks
from graphmer_dist.train.setup import build_context
from graphmer_dist.train.trainer import Trainer


def train_loop_per_worker(job: dict, hooks: TrainHooks | None = None) -> int:
    if hooks is None:
        hooks = local_hooks(job)
    ctx = build_context(job)
    benchmark = _benchmark(ctx, job) if ctx.world.is_main else None
    trainer = Trainer(ctx, hooks, benchmark)
    code = trainer.train()
    if benchmark is not None and trainer.step > 0:
        trainer.metrics.attach("benchmark.json", _write_record(benchmark, ctx, trainer.last_row))
    hooks.report({**trainer.last_row, "step": trainer.step, "exit_code": code}, None)
    return code


def local_hooks(job: dict) -> LocalHooks:
    config = config_from_dict(job["config"])
    return LocalHooks(job["run_dir"], job.get("resume", config.checkpoint.resume), list(job.get("resume_roots", [])),
                      config.checkpoint.keep, model_hash=config.model_hash(),
                      endpoint=config.checkpoint.s3_endpoint or None)


def _benchmark(ctx, job: dict):
    from graphmer_dist.records import RunBenchmark
    bench = RunBenchmark(ctx.config, platform=job.get("platform"), world_size=ctx.world.world_size,
                         precision=ctx.precision.name, device_type=ctx.precision.device.type,
                         run_dir=ctx.run_dir)
    bench.mark_start()
    return bench


def _write_record(benchmark, ctx, final_metrics: dict) -> dict:
    from graphmer_dist.records import append_record
    record = benchmark.finish(final_metrics)
    cfg = ctx.config
    append_record(ctx.run_dir, record, cfg.benchmark.store or None, cfg.checkpoint.s3_endpoint or None)
    return record

"""The Trainer: the training loop of every strategy, on one screen; the parts live next to it."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import torch

from graphmer_dist.checkpoint import layout
from graphmer_dist.checkpoint.rng import capture_rng_state, restore_rng_state
from graphmer_dist.config import parse_duration
from graphmer_dist.errors import CheckpointError
from graphmer_dist.train.distributed import all_reduce_sum, barrier
from graphmer_dist.train.evaluate import evaluate, link_summary, link_validation
from graphmer_dist.train.hooks import TrainHooks
from graphmer_dist.train.metrics import open_metrics, progress_display
from graphmer_dist.train.preemption import EXIT_PREEMPTED, StopRequest, TimeBudget
from graphmer_dist.train.setup import TrainContext
from graphmer_dist.train.step import optimizer_step


class Trainer:
    def __init__(self, ctx: TrainContext, hooks: TrainHooks, benchmark=None) -> None:
        self.ctx, self.hooks, self.benchmark = ctx, hooks, benchmark
        self.cfg = ctx.config
        self.step = 0
        self.last_saved = -1
        self.stop = StopRequest()
        self.budget = TimeBudget(parse_duration(self.cfg.train.time_limit))
        self.metrics = open_metrics(self.cfg, ctx.run_dir, ctx.world.is_main)
        self.last_row: dict = {}

    def train(self) -> int:
        """Runs to train.steps or until asked to stop; returns 0, or EXIT_PREEMPTED after a checkpoint."""
        # Under Ray the hooks carry a relay to the driver's console (launch/ray_console.py).
        progress = progress_display(self.cfg.train.steps, self.ctx.world.is_main, getattr(self.hooks, "console", None))
        if self.ctx.link_task is not None:  # its "no link-prediction validation: why" goes to the console
            self.ctx.link_task.log = progress.message
        self.restore(progress.message)
        progress.begin(self.step)
        self.stop.install()
        try:
            while self.step < self.cfg.train.steps and not self.should_stop():
                row = self.train_step()
                progress.update(self.step, row)
                if self.step % self.cfg.train.eval_every == 0 or self.step == self.cfg.train.steps:
                    progress.update(self.step, self.validate())
                if self.step % self.cfg.checkpoint.every_steps == 0:
                    self.save()
            if self.last_saved != self.step:
                self.save()  # still under our handler: a signal now must not kill the final save
        finally:
            self.stop.uninstall()
        preempted = self.step < self.cfg.train.steps
        reason = self.stop.signal_name or ("time limit" if self.budget.exhausted() else "asked by the launcher")
        progress.message(f"stopped at step {self.step} ({reason}); checkpoint saved" if preempted
                         else f"finished {self.step} steps")
        if (summary := link_summary(self.last_row)) is not None:
            progress.message(summary)
        progress.close()
        self.metrics.close()
        return EXIT_PREEMPTED if preempted else 0

    def train_step(self) -> dict | None:
        """One optimizer step over grad_accum micro-batches; a metrics row on logging steps."""
        start = time.perf_counter()
        done = optimizer_step(self.ctx.strategy, self.ctx.precision, self.ctx.train_batches.step_batches(), self.cfg)
        self.step += 1
        seconds = time.perf_counter() - start
        self.budget.record_step(seconds)
        W = self.ctx.world.world_size  # counts are this rank's; the record wants the job's
        if self.benchmark is not None:
            self.benchmark.step(self.step, seconds, done.tokens * W, done.samples * W, done.data_wait_s,
                                nonpad_tokens=done.nonpad_tokens * W, supervised_tokens=done.supervised_tokens * W,
                                flops=done.flops * W)
        if self.step % self.cfg.train.log_every and self.step != self.cfg.train.steps:
            return None
        loss_mean = all_reduce_sum([done.loss_sum / self.cfg.grad_accum_steps], self.ctx.precision.device,
                                   self.ctx.world)[0]
        row = {"step": self.step, "loss": loss_mean / W, "lr": done.lr, "grad_norm": done.grad_norm,
               "tokens_per_s": done.tokens * W / seconds, "nonpad_tokens_per_s": done.nonpad_tokens * W / seconds,
               "supervised_tokens_per_s": done.supervised_tokens * W / seconds,
               "nonpad_fraction": done.nonpad_tokens / done.tokens, "step_s": seconds,
               "data_wait_s": done.data_wait_s, "time": time.time()}
        self.metrics.write(row)
        self.last_row = row
        return row

    def should_stop(self) -> bool:
        """Collective: every rank must agree to stop at the same step, or the next collective hangs."""
        asked = self.stop.requested or (self.ctx.world.is_main and self.hooks.stop_requested())
        local = 1.0 if (asked or self.budget.exhausted()) else 0.0
        return all_reduce_sum([local], self.ctx.precision.device, self.ctx.world)[0] > 0

    def validate(self) -> dict | None:
        result = {}
        if self.ctx.val_rows is not None:
            result.update(evaluate(self.ctx.strategy.model, self.ctx.val_rows, self.ctx.collator,
                                   self.ctx.precision.autocast, self.ctx.precision.device,
                                   self.cfg.train.micro_batch_size, self.cfg.train.eval_batches,
                                   self.cfg.train.seed, self.ctx.world))
        task = self.ctx.link_task.task() if self.ctx.link_task is not None else None  # rank 0 only
        if task is not None:
            result.update(link_validation(task, self.ctx.strategy.raw_model, self.ctx.precision.device,
                                          self.ctx.precision.autocast, batch_size=32))
        if not result:
            return None
        row = {"step": self.step, "eval": True, **result}
        self.metrics.write(row)
        self.last_row = {**self.last_row, **result}
        return row

    def save(self) -> None:
        """Collective: every rank writes its part, rank 0 the manifest last, then the hooks publish."""
        start, world = time.perf_counter(), self.ctx.world
        directory = Path(self.hooks.staging_dir(self.step, world.rank)) if world.is_main else None
        barrier(world)  # rank 0 clears a leftover staging folder before the others write into it
        directory = directory or Path(self.hooks.staging_dir(self.step, world.rank))
        self.ctx.strategy.save(directory, world.rank)
        model_state = self.ctx.strategy.portable_state_dict()
        train_state = {"step": self.step, "sampler": self.ctx.train_batches.state_dict(),
                       "world_size": world.world_size}
        files = layout.write_rank_files(directory, world.rank, capture_rng_state(), model_state, train_state
                                        if world.is_main else None, self.ctx.dataset_dir, self.cfg.to_json())
        all_files = _gather_dicts(files, world)
        if world.is_main:
            layout.write_manifest(directory, self.step, self.manifest_meta(), all_files)
        barrier(world)
        # The rows first: a checkpoint published before them (S3 rewrites metrics.jsonl at checkpoints) and a
        # kill in between would resume past steps whose rows are lost for good; the other order at worst
        # repeats the rows of steps that are trained again.
        self.metrics.sync()
        self.hooks.report({**self.last_row, "step": self.step}, str(directory))
        shutil.rmtree(directory, ignore_errors=True)  # published (copied) by the hooks; the staging is ours
        with contextlib.suppress(OSError):  # and so is its folder, once empty (else one is left in /tmp per run)
            directory.parent.rmdir()
        self.last_saved = self.step
        seconds = time.perf_counter() - start
        self.budget.record_checkpoint(seconds)
        if self.benchmark is not None:
            self.benchmark.checkpoint(seconds)

    def manifest_meta(self) -> dict:
        return {"config_hash": self.cfg.hash(), "model_hash": self.cfg.model_hash(),
                "world_size": self.ctx.world.world_size, "strategy": self.cfg.parallel.strategy}

    def restore(self, say=print) -> None:
        start = time.perf_counter()
        found = self.hooks.resume_checkpoint()
        if found is None:
            return
        directory, world = Path(found), self.ctx.world
        state = layout.read_train_state(directory)
        saved = layout.read_manifest_meta(directory)
        problem = self.ctx.strategy.resume_problem(saved["strategy"], saved["world_size"])
        if problem:
            raise CheckpointError(f"checkpoint {directory} cannot be resumed by this run: {problem}, or start "
                                  "fresh with --resume never (its model.pt still loads anywhere for eval)")
        self.ctx.strategy.load(directory, saved["world_size"])
        self.ctx.train_batches.load_state_dict(state["sampler"])
        rng = layout.read_rng(directory, world.rank)
        if rng is not None:
            restore_rng_state(rng)
        else:  # a rank the saving run did not have: a fresh dropout stream, not a replay of step 0's
            torch.manual_seed(self.cfg.train.seed + 1 + world.rank + 1_000_003 * state["step"])
        self.step = self.last_saved = state["step"]
        if world.is_main:
            changes = layout.describe_changes(directory, self.cfg)
            say(f"resumed from {directory} at step {self.step} ({time.perf_counter() - start:.2f} s to verify "
                f"and load){'; ' + changes if changes else ''}")


def _gather_dicts(files: dict[str, str], world) -> dict[str, str]:
    if world.world_size == 1:
        return files
    gathered: list = [None] * world.world_size
    torch.distributed.all_gather_object(gathered, files)
    merged: dict[str, str] = {}
    for part in gathered:
        merged.update(part)
    return merged

"""Process-group setup and the 'single'/'ddp' strategies (DeepSpeed lives in `deepspeed_strategy.py`;
the interface they share is `strategy.Strategy`)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from graphmer_dist.checkpoint.layout import read_model_state, save_tensors
from graphmer_dist.checkpoint.safe_load import load_tensors
from graphmer_dist.config import Config
from graphmer_dist.train.optim import build_optimizer, build_scheduler
from graphmer_dist.train.precision import Precision
from graphmer_dist.train.strategy import register


# Devices with a fused AdamW kernel in torch 2.x; elsewhere torch's default (foreach) applies.
FUSED_ADAMW_DEVICES = ("cpu", "cuda")
TORCH_STRATEGIES = ("single", "ddp")
OPTIMIZER_FILE = "optimizer.pt"
"""single/ddp: optimizer, scheduler and GradScaler state dicts (tensors and numbers)."""
# Optimizer param-group keys that choose a kernel rather than hold training state.
IMPLEMENTATION_KEYS = ("fused", "foreach", "capturable", "differentiable")


@dataclass(frozen=True)
class WorldInfo:
    rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world(strategy: str, device: torch.device) -> WorldInfo:
    """Join the process group: Ray Train has already created it; under torchrun we create it here."""
    if strategy == "single":
        return WorldInfo(0, 1)
    if not dist.is_initialized():
        assert "RANK" in os.environ, "ddp/deepspeed need a launcher (Ray Train or torchrun) to set RANK"
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return WorldInfo(dist.get_rank(), dist.get_world_size())


def barrier(world: WorldInfo) -> None:
    if world.world_size > 1:
        dist.barrier()


def all_reduce_sum(values: list[float], device: torch.device, world: WorldInfo) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if world.world_size > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


class TorchStrategy:
    """'single' (one process) and 'ddp' (DistributedDataParallel over the existing process group, when it has
    more than one rank)."""

    def __init__(self, model: torch.nn.Module, config: Config, precision: Precision, world: WorldInfo) -> None:
        self.raw_model = model.to(precision.device)
        self.precision = precision
        self.accum_steps = config.grad_accum_steps
        self.grad_clip = config.train.grad_clip
        self.model = self.raw_model
        # One worker has nothing to all-reduce: DDP would still copy every gradient into its buckets and
        # reduce them over a one-rank group (a 1-worker Ray run: 0.94x the single process's tokens/s).
        if config.parallel.strategy == "ddp" and world.world_size > 1:
            device_ids = [precision.device.index] if precision.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.raw_model, device_ids=device_ids)
        # Fused AdamW: 35 → 5 ms per step for cpu-small's 9.2M parameters on one CPU thread, and the
        # usual choice on CUDA too (it also honours the GradScaler). `graphmer-launch bench` times it so.
        self.optimizer = build_optimizer(self.raw_model, config.train,
                                         fused=precision.device.type in FUSED_ADAMW_DEVICES)
        self.scheduler = build_scheduler(self.optimizer, config.train)

    def sync_context(self, is_last_micro_batch: bool) -> contextlib.AbstractContextManager:
        """Skip DDP's gradient all-reduce on all but the last micro-batch of an accumulation."""
        if isinstance(self.model, torch.nn.parallel.DistributedDataParallel) and not is_last_micro_batch:
            return self.model.no_sync()
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        # Each micro-batch's loss is already a mean; dividing by the accumulation steps makes the
        # accumulated gradient the mean over the whole optimizer-step batch, before clipping.
        loss = loss / self.accum_steps
        if self.precision.scaler is not None:
            loss = self.precision.scaler.scale(loss)
        loss.backward()

    def step(self) -> float:
        """Clip, step, zero the gradients, advance the schedule; returns the pre-clip gradient norm."""
        scaler = self.precision.scaler
        if scaler is not None:
            scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.grad_clip)
        applied = True
        if scaler is not None:
            scale = scaler.get_scale()
            scaler.step(self.optimizer)  # skips the update when a gradient overflowed
            scaler.update()
            applied = scaler.get_scale() >= scale  # update() lowers the scale exactly when step() skipped
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if applied:
            # The schedule counts applied updates, so the overflowing steps of fp16's first iterations
            # (while the scaler backs off from 2^16) do not eat into the warm-up.
            self.scheduler.step()
        return float(grad_norm)

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def save(self, directory: Path, rank: int) -> None:
        """Rank 0 writes optimizer.pt: the optimizer state is whole and identical on every rank."""
        if rank == 0:
            save_tensors(self.state_dict(), directory / OPTIMIZER_FILE)

    def state_dict(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
        if self.precision.scaler is not None:
            state["scaler"] = self.precision.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        load_optimizer_state(self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.precision.scaler is not None and "scaler" in state:
            self.precision.scaler.load_state_dict(state["scaler"])

    def portable_state_dict(self) -> dict[str, torch.Tensor] | None:
        return {k: v.detach().cpu() for k, v in self.raw_model.state_dict().items()}

    def resume_problem(self, saved_strategy: str, saved_world_size: int) -> str:
        # Any number of single/ddp ranks: every rank holds the whole model and optimizer state.
        if saved_strategy in TORCH_STRATEGIES:
            return ""
        return (f"it was saved by strategy '{saved_strategy}', whose optimizer state is DeepSpeed's own; "
                "resume it with --strategy deepspeed")

    def load(self, directory: Path, saved_world_size: int) -> None:
        self.raw_model.load_state_dict(read_model_state(directory))
        self.load_state_dict(load_tensors(directory / OPTIMIZER_FILE))


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load moments and step counts, but keep this run's kernel choice (fused/foreach): torch would
    take it from the checkpoint, so a run resumed from an older checkpoint would silently lose speed."""
    kernels = [{key: group.get(key) for key in IMPLEMENTATION_KEYS} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kept in zip(optimizer.param_groups, kernels):
        group.update(kept)


@register("single")
@register("ddp")
def _torch_strategy() -> type[TorchStrategy]:
    return TorchStrategy

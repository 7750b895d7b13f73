"""The `Strategy` interface every parallel strategy implements, and the registry of them by name.

A strategy owns the wrapped model, the optimizer and the schedule, hides how a micro-batch's loss becomes
an optimizer step (accumulation, loss scaling, clipping, which ranks sync when), and saves and restores its
own part of a checkpoint. The trainer only talks to this interface; it never asks which strategy it has.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import torch

from graphmer_dist.config import Config
from graphmer_dist.train.precision import Precision


@runtime_checkable
class Strategy(Protocol):
    model: torch.nn.Module
    """What the forward pass runs through (DDP wrapper, DeepSpeed engine or the bare model)."""

    def sync_context(self, is_last_micro_batch: bool) -> contextlib.AbstractContextManager:
        """Context for one micro-batch's forward/backward (DDP skips the all-reduce but on the last)."""

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradient of one micro-batch's mean loss."""

    def step(self) -> float:
        """Clip, update, zero the gradients, advance the schedule; returns the pre-clip gradient norm."""

    @property
    def lr(self) -> float:
        """The learning rate the next step uses."""

    def save(self, directory: Path, rank: int) -> None:
        """Collective: write this strategy's optimizer/scheduler/scaler state into the checkpoint folder."""

    def portable_state_dict(self) -> dict[str, torch.Tensor] | None:
        """Collective: the whole model's weights as the bare model names them, on rank 0 (None elsewhere)."""

    def resume_problem(self, saved_strategy: str, saved_world_size: int) -> str:
        """'' when a checkpoint saved by that strategy and world size can be restored here, else why not."""

    def load(self, directory: Path, saved_world_size: int) -> None:
        """Restore weights and optimizer state from a verified checkpoint folder, before the first step."""


StrategyFactory = Callable[[torch.nn.Module, Config, Precision, "WorldInfo"], Strategy]  # noqa: F821
_REGISTRY: dict[str, Callable[[], StrategyFactory]] = {}


def register(name: str):
    """Decorator for a function returning the strategy class (lazy: DeepSpeed imports slowly)."""
    def add(loader: Callable[[], StrategyFactory]) -> Callable[[], StrategyFactory]:
        _REGISTRY[name] = loader
        return loader
    return add


def strategy_names() -> tuple[str, ...]:
    _load_builtins()
    return tuple(sorted(_REGISTRY))


def build_strategy(model: torch.nn.Module, config: Config, precision: Precision, world) -> Strategy:
    _load_builtins()
    return _REGISTRY[config.parallel.strategy]()(model, config, precision, world)


def _load_builtins() -> None:
    import graphmer_dist.train.distributed  # noqa: F401  registers single, ddp
    import graphmer_dist.train.deepspeed_strategy  # noqa: F401  registers deepspeed (imports deepspeed lazily)

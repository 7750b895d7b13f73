"""The 'deepspeed' strategy: a DeepSpeed engine (ZeRO 1/2/3) built from a config generated from ours.

DeepSpeed owns accumulation, clipping and loss scaling here, so the generated config carries them;
we pass our LambdaLR so the schedule is identical to the other strategies, and torch's AdamW — except
with optimizer offload, whose host-side step runs DeepSpeed's CPU Adam (the same AdamW update in SIMD
C++, JIT-built once with g++ into TORCH_EXTENSIONS_DIR). Every rank takes part in saves: ZeRO shards optimizer
state (and, at stage 3, parameters), so each rank writes its own files into the checkpoint folder.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import torch

from graphmer_dist.checkpoint.safe_load import load_tensors
from graphmer_dist.config import Config
from graphmer_dist.train.distributed import WorldInfo
from graphmer_dist.train.optim import build_optimizer, build_scheduler, parameter_groups
from graphmer_dist.train.precision import Precision
from graphmer_dist.train.strategy import register

DEEPSPEED_SUBDIR = "deepspeed"
"""Folder inside a checkpoint that holds DeepSpeed's own (per-rank) files."""
DEEPSPEED_TAG = "state"


def deepspeed_config(config: Config, precision: str) -> dict:
    """The DeepSpeed JSON config equivalent to our train/parallel sections."""
    train, parallel = config.train, config.parallel
    zero: dict = {"stage": parallel.zero_stage}
    if parallel.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": False}
    return {
        "train_micro_batch_size_per_gpu": train.micro_batch_size,
        "gradient_accumulation_steps": config.grad_accum_steps,
        "train_batch_size": train.global_batch_size,
        "gradient_clipping": train.grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16", "initial_scale_power": 16},
        # Without offload our optimizer is torch's AdamW; DeepSpeed must be told that is intended.
        "zero_allow_untested_optimizer": True,
        "zero_force_ds_cpu_optimizer": False,
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }


class DeepSpeedStrategy:
    def __init__(self, model: torch.nn.Module, config: Config, precision: Precision, world: WorldInfo) -> None:
        import deepspeed
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"deepspeed\..*")
        optimizer = _optimizer(model, config)
        scheduler = build_scheduler(optimizer, config.train)
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model.to(precision.device), optimizer=optimizer, lr_scheduler=scheduler,
            config=deepspeed_config(config, precision.name),
            dist_init_required=not torch.distributed.is_initialized())
        self.model = self.engine
        self.raw_model = self.engine.module
        self.precision = precision
        self.zero_stage = config.parallel.zero_stage
        self.world = world

    def sync_context(self, is_last_micro_batch: bool) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()  # the engine only reduces at accumulation boundaries

    def backward(self, loss: torch.Tensor) -> None:
        # engine.backward divides by gradient_accumulation_steps itself; engine.step() must be called
        # after every micro-batch and only updates at the boundary.
        boundary = self.engine.is_gradient_accumulation_boundary()
        self.engine.backward(loss)
        if not boundary:
            self.engine.step()

    def step(self) -> float:
        self.engine.step()
        norm = self.engine.get_global_grad_norm()
        return float(norm) if norm is not None else float("nan")

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def save(self, directory: Path, rank: int) -> None:
        """Collective: every rank writes its shard of the engine state (optimizer, scheduler, scaler)."""
        self.engine.save_checkpoint(str(directory / DEEPSPEED_SUBDIR), tag=DEEPSPEED_TAG, save_latest=False)

    def resume_problem(self, saved_strategy: str, saved_world_size: int) -> str:
        if saved_strategy != "deepspeed":
            return (f"it was saved by strategy '{saved_strategy}', without DeepSpeed's optimizer shards; "
                    f"resume it with --strategy {saved_strategy}")
        if saved_world_size != self.world.world_size:
            return (f"DeepSpeed's ZeRO shards were cut for {saved_world_size} worker(s), this run has "
                    f"{self.world.world_size}; resume with --num-workers {saved_world_size}")
        return ""

    def load(self, directory: Path, saved_world_size: int) -> None:
        # Every file DeepSpeed reads goes through the weights_only loader (DeepSpeed's own engine
        # would unpickle anything).
        self.engine.checkpoint_engine.load = _safe_engine_load
        path, _ = self.engine.load_checkpoint(str(directory / DEEPSPEED_SUBDIR), tag=DEEPSPEED_TAG,
                                              load_optimizer_states=True, load_lr_scheduler_states=True)
        assert path is not None, f"DeepSpeed found no checkpoint under {directory}"

    def portable_state_dict(self) -> dict[str, torch.Tensor] | None:
        """Collective: the whole fp32 model on rank 0 (None elsewhere), gathered from ZeRO-3 shards."""
        import deepspeed
        params = list(self.raw_model.parameters())
        gather = deepspeed.zero.GatheredParameters(params) if self.zero_stage == 3 else contextlib.nullcontext()
        with gather:
            if not self.world.is_main:
                return None
            return {k: v.detach().float().cpu().clone() for k, v in self.raw_model.state_dict().items()}


def _optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Optimizer:
    if not config.parallel.offload_optimizer:
        return build_optimizer(model, config.train)
    # Offloaded states are updated on the host: torch's AdamW there is a per-tensor Python loop,
    # several times slower than CPU Adam's vectorised kernel over the whole flat partition.
    from deepspeed.ops.adam import DeepSpeedCPUAdam
    train = config.train
    return DeepSpeedCPUAdam(parameter_groups(model, train.weight_decay), lr=train.lr,
                            betas=(train.adam_beta1, train.adam_beta2), eps=train.adam_eps, adamw_mode=True)


def _safe_engine_load(path: str, map_location=None):
    return load_tensors(path, map_location=map_location or "cpu")


@register("deepspeed")
def _deepspeed_strategy() -> type[DeepSpeedStrategy]:
    return DeepSpeedStrategy

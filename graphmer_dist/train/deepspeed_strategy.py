"""The 'deepspeed' strategy: a DeepSpeed engine (ZeRO 1/2/3) built from a config generated from ours.

DeepSpeed owns accumulation, clipping and loss scaling here, so the generated config carries them;
we pass our LambdaLR so the schedule is identical to the other strategies, and torch's AdamW — except
with optimizer offload, whose host-side step runs DeepSpeed's CPU Adam (the same AdamW update in SIMD
C++, JIT-built once with g++ into TORCH_EXTENSIONS_DIR).

Checkpoints hold the state whole, not DeepSpeed's per-rank shards: model.pt the fp32 master weights and
`deepspeed_optimizer.pt` the Adam moments by parameter name, gathered from every rank's ZeRO partition
through DeepSpeed's public `safe_get_full_*` API (a collective). Any number of workers and any ZeRO stage
restores them with `safe_set_full_*`, each rank keeping its own partition, so a run moves between machines
of different sizes. (DeepSpeed's own files are cut per rank, and its universal-checkpoint converter and
loader unpickle whatever they read; a checkpoint is untrusted input, read here with weights_only.)
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import torch

from graphmer_dist.checkpoint.layout import read_model_state, save_tensors
from graphmer_dist.checkpoint.safe_load import load_tensors
from graphmer_dist.config import Config
from graphmer_dist.errors import CheckpointError
from graphmer_dist.train.distributed import WorldInfo
from graphmer_dist.train.optim import build_optimizer, build_scheduler, parameter_groups
from graphmer_dist.train.precision import Precision
from graphmer_dist.train.strategy import register

OPTIMIZER_FILE = "deepspeed_optimizer.pt"
"""{"step", "exp_avg": {name: tensor}, "exp_avg_sq": {...}, "scheduler", "loss_scaler"}: whole, any world size."""
MOMENTS = ("exp_avg", "exp_avg_sq")


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
        self.offload = config.parallel.offload_optimizer
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
        """Collective: every rank contributes its partition of the Adam moments; rank 0 writes them whole."""
        from deepspeed.utils import safe_get_full_optimizer_state
        step = self._optimizer_step_count()
        moments: dict[str, dict[str, torch.Tensor]] = {key: {} for key in MOMENTS}
        if step:  # no moments before the first step
            self._link_moments()
        for name, param in self.raw_model.named_parameters() if step else ():
            for key in MOMENTS:
                full = safe_get_full_optimizer_state(param, key)
                if rank == 0:
                    moments[key][name] = full.detach().float().cpu().clone()
        if rank == 0:
            scaler = getattr(self.engine.optimizer, "loss_scaler", None)
            save_tensors({"step": step, **moments, "scheduler": self.scheduler.state_dict(),
                          "loss_scaler": plain_numbers(scaler)}, directory / OPTIMIZER_FILE)

    def resume_problem(self, saved_strategy: str, saved_world_size: int) -> str:
        # Any number of workers and any ZeRO stage: the checkpoint holds the state whole.
        if saved_strategy != "deepspeed":
            return (f"it was saved by strategy '{saved_strategy}', whose optimizer state is torch's own; "
                    f"resume it with --strategy {saved_strategy}")
        return ""

    def load(self, directory: Path, saved_world_size: int) -> None:
        """Every rank reads the whole state and keeps its own partition of it (ZeRO-3: of the weights too)."""
        state = read_whole_state(directory / OPTIMIZER_FILE, self.raw_model)
        self._load_weights(read_model_state(directory))
        if state["step"]:
            self._load_moments(state)
        self.scheduler.load_state_dict(state["scheduler"])
        for group, lr in zip(self.scheduler.optimizer.param_groups, self.scheduler.get_last_lr()):
            group["lr"] = lr  # the schedule sets it at each step; the first resumed step uses it as loaded
        restore_numbers(getattr(self.engine.optimizer, "loss_scaler", None), state["loss_scaler"])
        self.engine.global_steps = state["step"]
        self.engine.global_samples = state["step"] * self.engine.train_batch_size()

    def _load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """The module's weights (ZeRO-3: gathered, set, re-partitioned) and the optimizer's fp32 masters."""
        import deepspeed
        from deepspeed.utils import safe_set_full_fp32_param
        params = dict(self.raw_model.named_parameters())
        with deepspeed.zero.GatheredParameters(list(params.values()), modifier_rank=0,
                                               enabled=self.zero_stage == 3), torch.no_grad():
            self.raw_model.load_state_dict(weights)
        for name, param in params.items():
            safe_set_full_fp32_param(param, weights[name].to(self.precision.device))

    def _load_moments(self, state: dict) -> None:
        """Create the optimizer's state for this rank's flat partitions (torch and CPU Adam create it lazily
        at the first step), link ZeRO 1/2's per-parameter views to it, then fill in this rank's slices."""
        from deepspeed.utils import safe_set_full_optimizer_state
        base = self.engine.optimizer.optimizer
        for flat in self._flat_partitions():
            # The step's type is the optimizer's own: CPU Adam counts in an int, torch in a float tensor.
            step = state["step"] if self.offload else torch.tensor(float(state["step"]))
            base.state[flat] = {"step": step, **{key: torch.zeros_like(flat) for key in MOMENTS}}
        self._link_moments()
        for name, param in self.raw_model.named_parameters():
            for key in MOMENTS:
                safe_set_full_optimizer_state(param, state[key][name].to(self.precision.device), key)

    def _flat_partitions(self) -> list[torch.Tensor]:
        """The fp32 tensors the optimizer steps, keys of its state: one per parameter group at ZeRO 1/2 (kept
        in the group), one per sub-group at ZeRO-3 (put into the group only while it steps)."""
        zero = self.engine.optimizer
        if self.zero_stage == 3:
            return list(zero.fp32_partitioned_groups_flat)
        return [group["params"][0] for group in zero.optimizer.param_groups]

    def _link_moments(self) -> None:
        """Point ZeRO 1/2's per-parameter views at their flat partition's Adam moments. DeepSpeed 0.19 links
        them once, right after the first parameter group's first step, when the other groups have no state
        yet; `safe_*_full_optimizer_state` then fails on the undecayed group's parameters. (ZeRO-3 finds the
        state by parameter, without views.)"""
        base, flats = self.engine.optimizer.optimizer, self._flat_partitions()
        for param in self.raw_model.parameters():
            mapping = getattr(param, "_hp_mapping", None)
            if mapping is not None:
                flat = flats[mapping.param_group_index]
                mapping.set_optim_state_fragment(flat, base.state[flat])

    def _optimizer_step_count(self) -> int:
        """Applied optimizer steps (the same on every rank and partition); 0 before the first."""
        states = self.engine.optimizer.optimizer.state.values()
        return next((int(state["step"]) for state in states if "step" in state), 0)

    def portable_state_dict(self) -> dict[str, torch.Tensor] | None:
        """Collective: the whole model on rank 0 (None elsewhere), its parameters the optimizer's fp32
        masters (not the bf16/fp16 copies the forward runs), gathered from every rank's partition."""
        from deepspeed.utils import safe_get_full_fp32_param
        # remove_duplicate=False: the MLM head's decoder is the token embedding, under both names.
        masters = {name: safe_get_full_fp32_param(param)
                   for name, param in self.raw_model.named_parameters(remove_duplicate=False)}
        if not self.world.is_main:
            return None
        return {name: masters.get(name, value).detach().float().cpu().clone()
                for name, value in self.raw_model.state_dict().items()}


def _optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Optimizer:
    if not config.parallel.offload_optimizer:
        return build_optimizer(model, config.train)
    # Offloaded states are updated on the host: torch's AdamW there is a per-tensor Python loop,
    # several times slower than CPU Adam's vectorised kernel over the whole flat partition.
    from deepspeed.ops.adam import DeepSpeedCPUAdam
    train = config.train
    return DeepSpeedCPUAdam(parameter_groups(model, train.weight_decay), lr=train.lr,
                            betas=(train.adam_beta1, train.adam_beta2), eps=train.adam_eps, adamw_mode=True)


def read_whole_state(path: Path, model: torch.nn.Module) -> dict:
    """deepspeed_optimizer.pt, checked against `model`; CheckpointError naming it otherwise."""
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint file {path} is missing: the checkpoint is incomplete, or an older graphmer-dist "
            "wrote it (with DeepSpeed's per-rank files instead). Resume from a checkpoint this version "
            "wrote, or start fresh with --resume never (its model.pt still loads for eval).")
    state = load_tensors(path)
    if not _holds_moments_of(state, model):
        raise CheckpointError(
            f"checkpoint file {path} does not hold this model's DeepSpeed optimizer state (step, both Adam "
            "moments of every parameter at its shape, scheduler, loss scaler): it is damaged or belongs to "
            "another model. Resume from another checkpoint or start fresh with --resume never.")
    return state


def _holds_moments_of(state, model: torch.nn.Module) -> bool:
    if not isinstance(state, dict) or not {"step", *MOMENTS, "scheduler", "loss_scaler"} <= state.keys():
        return False
    if type(state["step"]) is not int or not all(isinstance(state[key], dict) for key in ("scheduler", "loss_scaler")):
        return False
    if state["step"] == 0:
        return True
    shapes = {name: tuple(getattr(p, "ds_shape", p.shape)) for name, p in model.named_parameters()}  # ZeRO-3: whole
    return all(isinstance(state[key], dict) and isinstance(state[key].get(name), torch.Tensor)
               and tuple(state[key][name].shape) == shape for key in MOMENTS for name, shape in shapes.items())


def plain_numbers(obj) -> dict:
    """The loss scaler's state (fp16: scale, iterations since the last overflow, hysteresis; else constants)."""
    return {k: v for k, v in vars(obj).items() if _kind(v) is not None} if obj is not None else {}


def restore_numbers(obj, saved: dict) -> None:
    """Set back what `plain_numbers` saved, only where `obj` holds a number of that kind (the file is untrusted;
    an int may come back as a float: the fp16 loss scale starts at 2**16 and halves into a float)."""
    for key, value in saved.items():
        if obj is not None and _kind(vars(obj).get(key)) is not None and _kind(vars(obj)[key]) is _kind(value):
            setattr(obj, key, value)


def _kind(value):
    return bool if isinstance(value, bool) else float if isinstance(value, (int, float)) else None


@register("deepspeed")
def _deepspeed_strategy() -> type[DeepSpeedStrategy]:
    return DeepSpeedStrategy

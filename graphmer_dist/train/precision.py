"""Autocast and loss scaling for train.precision on this process's device.

Which precision is decided by graphmer_dist/precision_rule.py. fp16 always comes with a GradScaler on
the same device type (torch.amp.GradScaler("cpu") exists too, so the T4/P100 path runs on a CPU):
fp16 gradients underflow without one. fp32 does nothing.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from graphmer_dist.errors import ConfigError
from graphmer_dist.precision_rule import choose_precision, device_caps


def resolve_device(device: str) -> torch.device:
    """'auto' → this rank's CUDA device if there is one, else CPU. LOCAL_RANK is set by Ray Train and
    torchrun alike (one device per worker)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'train.device': 'cuda' was asked for but torch sees no GPU; "
                          "use --set train.device=cpu (or auto)")
    if device in ("cuda", "auto") and torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        if os.environ.get(DETERMINISTIC_ENV) == "1":
            make_cuda_deterministic()
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


DETERMINISTIC_ENV = "GRAPHMER_DETERMINISTIC"
"""=1: bit-reproducible CUDA runs (benchmarks/gpu_check.sh compares a resumed run with an uninterrupted
one). Off by default: deterministic kernels (index_add/scatter backward, cuBLAS workspaces) are slower."""


def make_cuda_deterministic() -> None:
    """cuBLAS needs a fixed workspace to be deterministic (set before its first use); torch then picks
    deterministic kernels, warning (not failing) where an op has none, so the check can report it."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def resolve_precision(precision: str, device: torch.device) -> str:
    """The one precision rule (graphmer_dist/precision_rule.py) for this process's device."""
    return choose_precision(precision, device_caps(device))


@dataclass
class Precision:
    name: str
    device: torch.device
    scaler: torch.amp.GradScaler | None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.name == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.name == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)


def build_precision(precision: str, device: torch.device, use_scaler: bool = True) -> Precision:
    """`use_scaler=False` for DeepSpeed, whose engine does its own fp16 loss scaling."""
    name = resolve_precision(precision, device)
    scaler = torch.amp.GradScaler(device.type) if name == "fp16" and use_scaler else None
    return Precision(name, device, scaler)

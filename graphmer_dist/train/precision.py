"""Autocast and loss scaling chosen from train.precision and the device.

bf16 autocasts on CPU and CUDA (the CPUs here have avx512_bf16, worth ~2.3× on matmuls); fp16 only on
CUDA and always with a GradScaler, since fp16 gradients underflow without one; fp32 does nothing.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from graphmer_dist.errors import ConfigError


def resolve_device(device: str) -> torch.device:
    """'auto' → this rank's CUDA device if there is one, else CPU. LOCAL_RANK is set by Ray Train and
    torchrun alike (one device per worker)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'train.device': 'cuda' was asked for but torch sees no GPU; "
                          "use --set train.device=cpu (or auto)")
    if device in ("cuda", "auto") and torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return "fp16"
        return "bf16"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("config key 'train.precision': fp16 needs a CUDA GPU (CPU autocast is bf16 only); "
                          "use --precision bf16 or fp32")
    return precision


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
    scaler = torch.amp.GradScaler("cuda") if name == "fp16" and use_scaler else None
    return Precision(name, device, scaler)

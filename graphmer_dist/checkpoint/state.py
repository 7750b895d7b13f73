"""What goes into a checkpoint's files: RNG states, torch objects as bytes, and a portable model state dict.

Everything here round-trips through `torch.load(weights_only=True)` (plain dicts, lists, tuples, numbers,
strings and tensors), so loading a checkpoint never runs pickled code.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Key prefixes added by DDP / DeepSpeed engines (`module.`) and torch.compile (`_orig_mod.`)."""


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG a training step may draw from: python, numpy, torch CPU and (when present) CUDA."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back what `capture_rng_state` captured; CUDA states only when this process has CUDA."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state({"bit_generator": np_state["bit_generator"],
                         "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
                         "has_gauss": np_state["has_gauss"], "gauss": np_state["gauss"]})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def torch_bytes(obj: Any) -> bytes:
    """`torch.save(obj)` into memory, for `CheckpointManager.save(files={name: bytes})`."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def torch_load(source: bytes | Path | str, map_location: str | torch.device = "cpu") -> Any:
    """Load what `torch_bytes`/`torch.save` wrote, with `weights_only=True` (no arbitrary code)."""
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    return torch.load(handle, map_location=map_location, weights_only=True)


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DDP / a DeepSpeed engine (`.module`) or torch.compile (`._orig_mod`)."""
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def portable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights keyed as the bare model names them, on CPU: loads under any strategy."""
    state = unwrap_model(model).state_dict()
    return {strip_wrapper_prefixes(k): v.detach().cpu() for k, v in state.items()}


def strip_wrapper_prefixes(key: str) -> str:
    """'module._orig_mod.encoder.w' → 'encoder.w' (also for state dicts saved by other tools)."""
    stripped = True
    while stripped:
        stripped = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix):], True
    return key

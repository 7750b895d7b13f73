"""Reading checkpoint files without running anything in them: tensors through `weights_only`, the rest JSON.

A checkpoint is untrusted input (a Kaggle dataset someone attached, a shared bucket): a pickled object in a
`.pt` file runs code on `torch.load(weights_only=False)`. Every `.pt` file of a checkpoint — ours and
DeepSpeed's — is read through `load_tensors`, whose unpickler only rebuilds tensors and plain containers
(dict, list, tuple, str, int, float, bool, None) plus the few classes in `_allowed_globals()`. Anything else
is refused with a `CheckpointError` naming the file, before any of it is executed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from graphmer_dist.errors import CheckpointError


def _allowed_globals() -> list:
    """Plain data classes DeepSpeed pickles into its own checkpoint files (an enum, the loss scaler's numbers,
    a dataclass of offsets), when DeepSpeed is loaded. They are rebuilt by setting attributes; no method of
    theirs runs. The list is what DeepSpeed 0.19 writes for ZeRO 1-3 (tests/test_deepspeed.py resumes each)."""
    zero_config = sys.modules.get("deepspeed.runtime.zero.config")
    if zero_config is None:
        return []
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.utils.tensor_fragment import fragment_address
    return [zero_config.ZeroStageEnum, LossScaler, DynamicLossScaler, fragment_address]


def load_tensors(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """`torch.load(path, weights_only=True)`; CheckpointError naming `path` for anything else in it."""
    try:
        with torch.serialization.safe_globals(_allowed_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing; the checkpoint is incomplete. Resume from "
                              "another checkpoint or start fresh with --resume never.") from None
    except Exception as exc:  # the restricted unpickler raises UnpicklingError; a torn file other types
        raise CheckpointError(
            f"checkpoint file {path} was refused: it is not a plain tensor file ({_why(exc)}); it is corrupted "
            "or holds pickled objects. Nothing in it was run. graphmer-dist checkpoints hold only tensors, "
            "numbers and JSON; use a checkpoint this version wrote, from a source you trust, or start fresh "
            "with --resume never.") from None


def _why(exc: Exception) -> str:
    """The unpickler's own reason ("Unsupported global: GLOBAL builtins.open ..."), without torch's advice."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
    text = " ".join(text.split())
    return (text or type(exc).__name__)[:240]


def load_json(path: str | Path) -> Any:
    """A JSON file of a checkpoint; CheckpointError naming it when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing; the checkpoint is incomplete or was "
                              "written by an older graphmer-dist. Resume from another checkpoint or start "
                              "fresh with --resume never.") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint file {path} cannot be read as JSON ({exc}); resume from another "
                              "checkpoint or start fresh with --resume never.") from None

"""Reading checkpoint files without running anything in them: tensors through `weights_only`, the rest JSON.

A checkpoint is untrusted input (a Kaggle dataset someone attached, a shared bucket): a pickled object in a
`.pt` file runs code on `torch.load(weights_only=False)`. Every `.pt` file of a checkpoint is read through
`load_tensors`, whose unpickler only rebuilds tensors and plain containers (dict, list, tuple, str, int,
float, bool, None). Anything else is refused with a `CheckpointError` naming the file, before any of it is
executed. (DeepSpeed's state is saved as plain tensors too: train/deepspeed_strategy.py.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from graphmer_dist.errors import CheckpointError


def load_tensors(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """`torch.load(path, weights_only=True)`; CheckpointError naming `path` for anything else in it."""
    try:
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

"""Load a checkpoint for evaluation, or fail: never evaluate weights that did not load (docs/design.md §6).

Which folder, and whether it is intact, is the checkpoint package's call (`resolve_checkpoint`: a checkpoint
folder, or the newest valid one of a run folder, local or s3://, every file checked against manifest.json).
The model is built from the checkpoint's own config and loaded strictly: a missing, unexpected or
wrongly-shaped tensor is a `CheckpointError`, because the original GraphMER-SE evaluator warned, carried on
with random weights and published their metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from graphmer_dist.checkpoint import resolve_checkpoint
from graphmer_dist.checkpoint.layout import read_model_state
from graphmer_dist.checkpoint.safe_load import load_json
from graphmer_dist.config import Config
from graphmer_dist.config_loader import config_from_dict
from graphmer_dist.errors import CheckpointError, ConfigError
from graphmer_dist.model import GraphMERForPretraining


@dataclass
class LoadedCheckpoint:
    path: Path
    config: Config
    model: GraphMERForPretraining
    manifest: dict


def load_checkpoint(path: str, device: torch.device | str = "cpu", endpoint: str | None = None) -> LoadedCheckpoint:
    found = resolve_checkpoint(path, endpoint)
    config = _config(found.path)
    state = read_model_state(found.path)
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {found.uri}: model.pt holds a {type(state).__name__}, not a state dict")
    model = GraphMERForPretraining(config.model, config.train)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {found.uri}: model.pt does not fit the model its own config.json describes "
            f"({_first_lines(str(exc))}). The weights and config.json come from different runs or versions; "
            "refusing to evaluate a partly random model. Use the checkpoint folder exactly as the run wrote it."
        ) from None
    return LoadedCheckpoint(found.path, config, model.to(device).eval(), found.manifest)


def _config(folder: Path) -> Config:
    try:
        return config_from_dict(load_json(folder / "config.json"), str(folder / "config.json"))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {folder}: config.json is not a valid config for this version "
                              f"of graphmer-dist: {exc}") from None


def _first_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:count])[:400]

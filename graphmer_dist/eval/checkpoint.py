"""Load a checkpoint for evaluation, or fail: never evaluate weights that did not load (DESIGN.md §6).

A checkpoint folder (docs/interfaces.md) holds `config.json`, `model.pt` and `manifest.json` (written
last). The model is built from the checkpoint's own config and loaded strictly: a missing, unexpected
or wrongly-shaped tensor is a `CheckpointError`, because the original GraphMER-SE evaluator warned,
carried on with random weights and published their metrics.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from graphmer_dist.config import Config
from graphmer_dist.config_loader import config_from_dict
from graphmer_dist.errors import CheckpointError, ConfigError
from graphmer_dist.model import GraphMERForPretraining

MANIFEST = "manifest.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


@dataclass
class LoadedCheckpoint:
    path: Path
    config: Config
    model: GraphMERForPretraining
    manifest: dict


def resolve_checkpoint_dir(path: str, endpoint: str | None = None) -> Path:
    """A checkpoint folder as given, or the newest finished `checkpoints/step-N` of a run folder.
    s3:// checkpoints are downloaded into a temporary folder first."""
    if path.startswith("s3://"):
        return _download(path, endpoint)
    folder = Path(path).expanduser()
    if (folder / MANIFEST).is_file() or (folder / "model.pt").is_file():
        return folder
    steps = sorted((int(m.group(1)), p) for p in (folder / "checkpoints").glob("step-*")
                   if (m := _STEP_DIR.match(p.name)) and (p / MANIFEST).is_file())
    if steps:
        return steps[-1][1]
    raise CheckpointError(f"checkpoint {folder} not found: it is neither a checkpoint folder (with model.pt and "
                          "manifest.json) nor a run folder with finished checkpoints/step-N folders. Pass a "
                          "folder like <run_dir>/checkpoints/step-0000100, or the run folder itself.")


def load_checkpoint(path: str, device: torch.device | str = "cpu", endpoint: str | None = None) -> LoadedCheckpoint:
    folder = resolve_checkpoint_dir(path, endpoint)
    manifest = _read_json(folder / MANIFEST, "its completion marker; the save was interrupted — use an "
                          "earlier checkpoint")
    config = _config(folder)
    state = _model_state(folder, manifest)
    model = GraphMERForPretraining(config.model, config.train)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {folder}: model.pt does not fit the model its own config.json describes "
            f"({_first_lines(str(exc))}). The weights and config.json come from different runs or versions; "
            "refusing to evaluate a partly random model. Use the checkpoint folder exactly as the run wrote it."
        ) from None
    return LoadedCheckpoint(folder, config, model.to(device).eval(), manifest)


def _config(folder: Path) -> Config:
    raw = _read_json(folder / "config.json", "the resolved config the model was trained with")
    try:
        return config_from_dict(raw, str(folder / "config.json"))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {folder}: config.json is not a valid config for this version "
                              f"of graphmer-dist: {exc}") from None


def _model_state(folder: Path, manifest: dict) -> dict[str, torch.Tensor]:
    path = folder / "model.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {folder} has no model.pt; it is incomplete — use another checkpoint")
    expected = (manifest.get("files") or {}).get("model.pt")
    expected = expected.get("sha256") if isinstance(expected, dict) else expected
    if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        raise CheckpointError(f"checkpoint {folder}: model.pt does not match the sha256 in {MANIFEST} "
                              "(truncated or corrupted copy); copy it again or use another checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for an unreadable file
        raise CheckpointError(f"checkpoint {folder}: model.pt cannot be read ({type(exc).__name__}: "
                              f"{_first_lines(str(exc))}); use another checkpoint") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {folder}: model.pt holds a {type(state).__name__}, not a state dict")
    return state


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path.parent} has no {path.name} ({what}).") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path.parent}: {path.name} cannot be read ({exc}).") from None


def _download(uri: str, endpoint: str | None) -> Path:
    from graphmer_dist.storage import open_storage

    local = Path(tempfile.mkdtemp(prefix="graphmer-eval-"))
    if not open_storage(uri, endpoint=endpoint).download_dir("", local):
        raise CheckpointError(f"checkpoint {uri} is empty or does not exist.")
    return local


def _first_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:count])[:400]

"""What a checkpoint folder holds, written by every rank into a local folder, and read back.

    model.pt                 portable state dict (rank 0; DeepSpeed gathers ZeRO-3 shards first)
    train_state.pt           rank 0: step, optimizer/scheduler/scaler, sampler position, RNG states
    train_state.rank001.pt   rank r > 0: its sampler position and RNG states
    deepspeed/               DeepSpeed's own per-rank files (strategy 'deepspeed' only)
    tokenizer.json relations.json config.json   so the checkpoint can be interpreted on its own
    manifest.json            written last, by rank 0: step, hashes, world size, strategy, sha256 of all files

Each rank may write into its own folder (Ray merges them on upload), so the manifest's checksums are
gathered from all ranks. Publishing (rename into `<run_dir>/checkpoints/`, upload, pruning) is the
caller's: the Ray driver or `publish.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphmer_dist.errors import CheckpointError

MANIFEST = "manifest.json"
COPIED_FROM_DATASET = ("tokenizer.json", "relations.json")


def rank_state_name(rank: int) -> str:
    return "train_state.pt" if rank == 0 else f"train_state.rank{rank:03d}.pt"


def capture_rng() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _save(obj: Any, path: Path) -> None:
    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def write_rank_files(directory: Path, rank: int, rank_state: dict, model_state: dict | None,
                     dataset_dir: str, config_json: str) -> dict[str, str]:
    """This rank's files; returns {relative name: sha256} of everything this rank wrote."""
    directory.mkdir(parents=True, exist_ok=True)
    _save(rank_state, directory / rank_state_name(rank))
    if rank == 0:
        assert model_state is not None, "rank 0 writes the portable model"
        _save(model_state, directory / "model.pt")
        for name in COPIED_FROM_DATASET:
            shutil.copyfile(os.path.join(dataset_dir, name), directory / name)
        (directory / "config.json").write_text(config_json)
    return {p.relative_to(directory).as_posix(): sha256_file(p)
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}


def write_manifest(directory: Path, meta: dict, files: dict[str, str]) -> None:
    """The completion marker: a checkpoint without it is unfinished and never resumed from."""
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({**meta, "files": files}, indent=2, sort_keys=True))
    os.replace(tmp, directory / MANIFEST)


def check_checkpoint(directory: Path) -> dict:
    """The manifest of a complete, intact checkpoint; CheckpointError naming what is wrong otherwise."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise CheckpointError(f"checkpoint {directory} has no {MANIFEST}: it was not finished (the run "
                              "probably died while writing it); resume from an earlier one")
    manifest = json.loads(manifest_path.read_text())
    for name, digest in manifest["files"].items():
        path = directory / name
        if not path.is_file() or sha256_file(path) != digest:
            raise CheckpointError(f"checkpoint {directory}: file {name} is missing or does not match its "
                                  "checksum (truncated or corrupted); resume from an earlier checkpoint")
    return manifest


def read_rank_state(directory: Path, rank: int, world_size: int, strategy: str) -> dict:
    manifest = json.loads((directory / MANIFEST).read_text())
    if manifest["world_size"] != world_size or manifest["strategy"] != strategy:
        raise CheckpointError(
            f"checkpoint {directory} was written by {manifest['world_size']} worker(s) with strategy "
            f"'{manifest['strategy']}', this run has {world_size} with '{strategy}': the data order and "
            "optimizer shards cannot be carried over exactly. Resume with the same --num-workers and "
            "--strategy, or start fresh with --resume never (model.pt still loads anywhere for eval)")
    return torch.load(directory / rank_state_name(rank), map_location="cpu", weights_only=False)


def read_model_state(directory: Path) -> dict[str, torch.Tensor]:
    return torch.load(directory / "model.pt", map_location="cpu", weights_only=True)

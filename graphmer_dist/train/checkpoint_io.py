"""What a checkpoint folder holds, written by every rank into a local folder, and read back.

    model.pt                 portable state dict (rank 0; DeepSpeed gathers ZeRO-3 shards first)
    train_state.pt           rank 0: step, optimizer/scheduler/scaler, sampler position, RNG states
    train_state.rank001.pt   rank r > 0: its sampler position and RNG states
    deepspeed/               DeepSpeed's own per-rank files (strategy 'deepspeed' only)
    tokenizer.json relations.json config.json   so the checkpoint can be interpreted on its own
    manifest.json            written last, by rank 0: step, hashes, world size, strategy, sha256 of all files

Each rank may write into its own folder (Ray merges them on upload), so the manifest's checksums are
gathered from all ranks. The manifest has the format of `graphmer_dist.checkpoint` (whose
`resolve_resume` verifies it). Publishing is the hooks' job: `CheckpointManager.save` without Ray,
`ray.train.report` under Ray.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from graphmer_dist.checkpoint.manifest import MANIFEST, build_manifest, sha256_file
from graphmer_dist.errors import CheckpointError

COPIED_FROM_DATASET = ("tokenizer.json", "relations.json")


def rank_state_name(rank: int) -> str:
    return "train_state.pt" if rank == 0 else f"train_state.rank{rank:03d}.pt"


def _save(obj: Any, path: Path) -> None:
    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def write_rank_files(directory: Path, rank: int, rank_state: dict, model_state: dict | None,
                     dataset_dir: str, config_json: str) -> dict[str, str]:
    """This rank's files; returns {relative name: {"sha256", "size"}} of everything in the folder."""
    directory.mkdir(parents=True, exist_ok=True)
    _save(rank_state, directory / rank_state_name(rank))
    if rank == 0:
        assert model_state is not None, "rank 0 writes the portable model"
        _save(model_state, directory / "model.pt")
        for name in COPIED_FROM_DATASET:
            shutil.copyfile(os.path.join(dataset_dir, name), directory / name)
        (directory / "config.json").write_text(config_json)
    return {p.relative_to(directory).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}


def write_manifest(directory: Path, step: int, meta: dict, files: dict[str, dict]) -> None:
    """The completion marker (the checkpoint package's format): without it a checkpoint is unfinished."""
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(build_manifest(step, meta, files), indent=2))
    os.replace(tmp, directory / MANIFEST)


def staged_files(directory: Path) -> tuple[dict[str, Path], dict]:
    """A staged checkpoint as (files for CheckpointManager.save, meta) — the manifest is rewritten there."""
    manifest = json.loads((directory / MANIFEST).read_text())
    meta = {k: v for k, v in manifest.items() if k not in ("files", "step", "format_version", "created")}
    return {name: directory / name for name in manifest["files"]}, meta


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

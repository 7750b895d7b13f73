"""What a checkpoint folder holds, written by every rank into a local folder, and read back safely.

    model.pt                 portable state dict (rank 0; DeepSpeed: its fp32 master weights, gathered whole)
    optimizer.pt             single/ddp: optimizer, scheduler and GradScaler state (rank 0; same on all ranks)
    deepspeed_optimizer.pt   deepspeed: Adam moments by parameter name, step, scheduler, loss scaler, gathered
                             whole from every rank's ZeRO partition (rank 0), so any world size resumes it
    rng.rankNNN.pt           each rank's RNG states, as tensors
    train_state.json         rank 0: step, sampler position (global, independent of the world size), world size
    tokenizer.json relations.json config.json   so the checkpoint can be interpreted on its own
    manifest.json            written last, by rank 0: step, hashes, world size, strategy, sha256 of all files

Nothing here is pickled code: `.pt` files hold tensors and plain data and are read with
`safe_load.load_tensors` (weights_only); the rest is JSON. Each rank may write into its own folder (Ray
merges them on upload), so the manifest's checksums are gathered from all ranks.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from graphmer_dist.checkpoint.manifest import FORMAT_VERSION, MANIFEST, build_manifest, sha256_file
from graphmer_dist.checkpoint.safe_load import load_json, load_tensors
from graphmer_dist.errors import CheckpointError

COPIED_FROM_DATASET = ("tokenizer.json", "relations.json")
MODEL = "model.pt"
TRAIN_STATE = "train_state.json"


def rng_name(rank: int) -> str:
    return f"rng.rank{rank:03d}.pt"


def save_tensors(obj: Any, path: Path) -> None:
    """torch.save + fsync: the bytes are on disk before the manifest that vouches for them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def write_rank_files(directory: Path, rank: int, rng: dict, model_state: dict | None, train_state: dict | None,
                     dataset_dir: str, config_json: str) -> dict[str, dict]:
    """This rank's files (rank 0 adds the model, train_state.json and the dataset's vocabularies);
    returns {relative name: {"sha256", "size"}} of everything in the folder, strategy files included."""
    directory.mkdir(parents=True, exist_ok=True)
    save_tensors(rng, directory / rng_name(rank))
    if rank == 0:
        assert model_state is not None and train_state is not None, "rank 0 writes the model and the step"
        save_tensors(model_state, directory / MODEL)
        (directory / TRAIN_STATE).write_text(json.dumps(train_state, indent=2, sort_keys=True))
        for name in COPIED_FROM_DATASET:
            shutil.copyfile(os.path.join(dataset_dir, name), directory / name)
        (directory / "config.json").write_text(config_json)
    return {p.relative_to(directory).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}


def write_manifest(directory: Path, step: int, meta: dict, files: dict[str, dict]) -> None:
    """The completion marker: without it a checkpoint is unfinished. Written once per save, by rank 0."""
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(build_manifest(step, meta, files), indent=2))
    os.replace(tmp, directory / MANIFEST)


def read_train_state(directory: Path) -> dict:
    """train_state.json of a verified checkpoint folder (step, sampler, world_size)."""
    manifest = load_json(directory / MANIFEST)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {directory} has format_version {manifest.get('format_version')}, this graphmer-dist "
            f"reads {FORMAT_VERSION} (older versions pickled their training state, which is not loaded any "
            f"more). Its {MODEL} still loads for evaluation; to keep training from its weights start a new run "
            "with --resume never.")
    return load_json(directory / TRAIN_STATE)


def read_rng(directory: Path, rank: int) -> dict | None:
    """This rank's RNG states, or None when the checkpoint had fewer ranks than this run."""
    path = directory / rng_name(rank)
    return load_tensors(path) if path.is_file() else None


def read_model_state(directory: Path) -> dict[str, torch.Tensor]:
    return load_tensors(directory / MODEL)


def read_manifest_meta(directory: Path) -> dict:
    """The manifest of a checkpoint folder (strategy, world_size, hashes, files)."""
    return load_json(directory / MANIFEST)


def describe_changes(directory: Path, config) -> str:
    """What differs between the run that saved `directory` and `config` in how a step is computed:
    workers, strategy, micro-batch and accumulation; '' when nothing does."""
    saved, now = load_json(directory / "config.json"), config.to_dict()
    before, after = _layout(saved["parallel"], saved["train"]), _layout(now["parallel"], now["train"])
    changed = [f"{key} {before[key]} → {after[key]}" for key in before if before[key] != after[key]]
    if not changed:
        return ""
    same_batch = before["global batch"] == after["global batch"]
    return ("changed since the checkpoint: " + ", ".join(changed) +
            (" (same samples per step, same sample order)" if same_batch else " (same sample order)"))


def _layout(parallel: dict, train: dict) -> dict[str, Any]:
    accum = train["global_batch_size"] // (train["micro_batch_size"] * parallel["num_workers"])
    return {"strategy": parallel["strategy"], "workers": parallel["num_workers"],
            "global batch": train["global_batch_size"], "micro-batch": train["micro_batch_size"],
            "accumulation steps": accum}


"""Which checkpoint a run starts from: `checkpoint.resume` = 'auto' | 'never' | an explicit path.

'auto' takes the newest valid checkpoint of the run folder and of `extra_roots` — read-only places a
platform mounts, such as Kaggle's `/kaggle/input`, where a previous session's output reappears. Those are
searched for `checkpoints/` folders up to `SEARCH_DEPTH` levels down. On equal steps the run folder wins.
An explicit path is a checkpoint folder (holding manifest.json) or a run folder (holding checkpoints/);
anything unusable there is a CheckpointError, never a silent fresh start. A checkpoint whose
`model_hash` differs from the run's is refused: its weights would not fit the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from graphmer_dist.checkpoint import manifest as mf
from graphmer_dist.checkpoint.manager import CheckpointManager, CheckpointRef
from graphmer_dist.errors import CheckpointError
from graphmer_dist.storage import is_remote, join, open_storage

SEARCH_DEPTH = 3


@dataclass(frozen=True, slots=True)
class ResolvedCheckpoint:
    path: Path
    """Local folder with the verified files (the checkpoint itself, or a downloaded copy of an S3 one)."""
    step: int
    manifest: dict[str, Any]
    uri: str
    """Where it came from, for logs."""


def resolve_resume(resume: str, run_dir: str, extra_roots: Sequence[str] = (), *, model_hash: str | None = None,
                   endpoint: str | None = None, cache_dir: Path | None = None) -> ResolvedCheckpoint | None:
    """The checkpoint to resume from, verified and local, or None to start fresh."""
    if resume == "never":
        return None
    if resume == "auto":
        managers = [CheckpointManager(open_storage(run_dir, endpoint), cache_dir=cache_dir)]
        managers += [CheckpointManager(open_storage(str(d)), cache_dir=cache_dir) for d in find_run_dirs(extra_roots)]
        found = _newest(managers)
    else:
        found = _explicit(resume, endpoint, cache_dir)
    return None if found is None else _load(*found, model_hash)


def resolve_checkpoint(path: str, endpoint: str | None = None, cache_dir: Path | None = None) -> ResolvedCheckpoint:
    """A checkpoint folder, or the newest valid checkpoint of a run folder (local or s3://), verified and
    local — for evaluation and anything else that reads one checkpoint; CheckpointError when there is none."""
    return _load(*_explicit(path, endpoint, cache_dir), None)


def _load(manager: CheckpointManager, ref: CheckpointRef, model_hash: str | None) -> ResolvedCheckpoint:
    path = manager.load(ref)
    manifest = mf.read_manifest(ref.storage, ref.key)[0]
    check_model_hash(manifest, model_hash, ref.uri)
    return ResolvedCheckpoint(path=path, step=int(manifest["step"]), manifest=manifest, uri=ref.uri)


def check_model_hash(manifest: dict[str, Any], model_hash: str | None, uri: str) -> None:
    if model_hash is not None and manifest.get("model_hash") != model_hash:
        raise CheckpointError(
            f"checkpoint {uri} was written for a different model architecture (model_hash "
            f"{manifest.get('model_hash')}, this run has {model_hash}): the `model` section of the config "
            "changed since it was saved. Resume with the config it was trained with (its config.json is in "
            "the checkpoint folder), or start fresh with --resume never or a new --run-dir."
        )


def find_run_dirs(roots: Sequence[str]) -> list[Path]:
    """Local folders below `roots` (up to SEARCH_DEPTH levels) that contain a `checkpoints/` folder."""
    found = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for here, dirs, _ in os.walk(root):
            depth = len(Path(here).relative_to(root).parts)
            if "checkpoints" in dirs:
                found.append(Path(here))
            if depth >= SEARCH_DEPTH:
                dirs.clear()
            dirs[:] = sorted(d for d in dirs if d != "checkpoints")
    return found


def _newest(managers: list[CheckpointManager]) -> tuple[CheckpointManager, CheckpointRef] | None:
    best = None
    for manager in managers:
        ref = manager.latest_valid()
        if ref is not None and (best is None or ref.step > best[1].step):
            best = (manager, ref)
    return best


def _explicit(path: str, endpoint: str | None, cache_dir: Path | None) -> tuple[CheckpointManager, CheckpointRef]:
    if not is_remote(path):
        path = str(Path(os.path.expanduser(path)).absolute())
    parent, _, name = path.rstrip("/").rpartition("/")
    parent_storage = open_storage(parent or "/", endpoint)
    if parent_storage.exists(join(name, mf.MANIFEST)):
        manager = CheckpointManager(parent_storage, prefix="", cache_dir=cache_dir)
        manifest = mf.read_manifest(parent_storage, name)[0]
        step = int(manifest["step"]) if manifest else -1
        return manager, CheckpointRef(parent_storage, name, step)
    run_storage = open_storage(path, endpoint)
    if run_storage.list("checkpoints"):
        manager = CheckpointManager(run_storage, cache_dir=cache_dir)
        ref = manager.latest_valid()
        if ref is None:
            raise CheckpointError(f"{path}: none of the checkpoints in {path}/checkpoints is complete and "
                                  "intact (see the warnings above). Point at another checkpoint, or start "
                                  "training fresh with --resume never.")
        return manager, ref
    raise CheckpointError(f"{path}: there is no checkpoint there (no manifest.json and no checkpoints/ "
                          "folder). Give a checkpoint folder such as <run_dir>/checkpoints/step-0000100 or a run "
                          "folder (--resume also takes 'auto' or 'never').")

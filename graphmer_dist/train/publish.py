"""Checkpoints in `<run_dir>/checkpoints/step-NNNNNNN/` when no Ray is around (strategy 'single').

Written into a hidden temporary folder next to the target and renamed (atomic on one filesystem), so
a `step-*` folder is either complete or absent; the manifest inside is checked again on resume since a
disk can still truncate files. The newest `keep` are kept (≥ 2: the newest may be damaged).
Under Ray, Ray's own checkpoint manager publishes the same layout (see launch/ray_driver.py).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from graphmer_dist.errors import CheckpointError
from graphmer_dist.train.checkpoint_io import check_checkpoint

STEP_DIR = re.compile(r"^step-(\d{7,})$")


def step_dir_name(step: int) -> str:
    return f"step-{step:07d}"


def checkpoints_root(run_dir: str) -> Path:
    if "://" in run_dir:
        raise CheckpointError(f"run folder {run_dir}: a remote run folder needs the Ray driver (strategy "
                              "ddp/deepspeed) in this version; use a local --run-dir for --strategy single")
    return Path(run_dir) / "checkpoints"


def staging_dir(run_dir: str, step: int) -> Path:
    """Shared by the ranks of one node; a leftover from a killed run is cleared first."""
    path = checkpoints_root(run_dir) / f".tmp-{step_dir_name(step)}"
    if path.exists():
        shutil.rmtree(path)
    return path


def publish(staging: Path, run_dir: str, step: int, keep: int) -> Path:
    final = checkpoints_root(run_dir) / step_dir_name(step)
    if final.exists():  # a resumed run re-reaching a step it had saved before dying
        shutil.rmtree(final)
    os.rename(staging, final)
    _fsync_dir(final.parent)
    for old in step_dirs(final.parent)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def step_dirs(root: Path) -> list[Path]:
    """Published checkpoint folders, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def latest_valid(roots: list[Path]) -> Path | None:
    """The newest intact checkpoint under any of `roots`; damaged ones are skipped with a warning."""
    candidates = sorted((p for root in roots for p in step_dirs(root)),
                        key=lambda p: int(STEP_DIR.match(p.name).group(1)), reverse=True)
    for path in candidates:
        try:
            check_checkpoint(path)
            return path
        except CheckpointError as exc:
            print(f"warning: skipping checkpoint {path}: {exc}", file=sys.stderr)
    return None


def resolve_resume(resume: str, run_dir: str, extra_roots: list[str]) -> Path | None:
    """'never' → None; 'auto' → the newest valid checkpoint (or None); a path → that checkpoint, checked."""
    if resume == "never":
        return None
    if resume == "auto":
        roots = [checkpoints_root(run_dir)] + [Path(r) for r in extra_roots if "://" not in r]
        return latest_valid(roots)
    path = Path(resume)
    check_checkpoint(path)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The checkpoint manifest — the completion marker — and the checks that decide whether a checkpoint is valid.

`manifest.json` is written after every other file of a checkpoint. It records what the checkpoint is
(step, config_hash, model_hash, world_size, strategy, created) and, per file, its sha256 and size, so a
truncated or corrupted file is detected before anything is loaded from it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from graphmer_dist.storage import Storage, join

MANIFEST = "manifest.json"
FORMAT_VERSION = 2
"""2: no pickled objects (RNG states as tensors, step and sampler in train_state.json)."""
REQUIRED_META = ("config_hash", "model_hash", "world_size", "strategy")
STEP_DIR = re.compile(r"^step-(\d+)$")
_HASH_CHUNK = 8 << 20


def step_dirname(step: int) -> str:
    return f"step-{step:07d}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(step: int, meta: dict[str, Any], files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest for `files` ({name: {"sha256", "size"}}); `meta` must hold REQUIRED_META."""
    missing = [k for k in REQUIRED_META if k not in meta]
    assert not missing, f"checkpoint meta lacks {missing}"
    assert MANIFEST not in files, f"'{MANIFEST}' is reserved for the checkpoint's own manifest"
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"format_version": FORMAT_VERSION, "step": int(step), **meta, "created": created,
            "files": dict(sorted(files.items()))}


def read_manifest(storage: Storage, key: str) -> tuple[dict[str, Any] | None, str]:
    """(manifest, '') for a readable manifest under the folder `key`, else (None, why not)."""
    try:
        raw = storage.read_bytes(join(key, MANIFEST))
    except FileNotFoundError:
        return None, "no manifest.json (an interrupted save)"
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"manifest.json is not valid JSON ({exc})"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or "step" not in manifest:
        return None, "manifest.json lacks 'step' or 'files'"
    return manifest, ""


def shallow_problem(manifest: dict[str, Any], sizes: dict[str, int]) -> str:
    """Why the listed files ({name: size}) do not match the manifest, or '' when every size matches."""
    for name, entry in manifest["files"].items():
        if name not in sizes:
            return f"file {name} is missing"
        if sizes[name] != entry.get("size"):
            return f"file {name} has {sizes[name]} bytes, the manifest says {entry.get('size')} (truncated?)"
    return ""


def checksum_problem(manifest: dict[str, Any], folder: Path) -> str:
    """Why the files in the local `folder` do not match the manifest's sha256s, or '' when all match."""
    for name, entry in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            return f"file {name} is missing"
        if path.stat().st_size != entry.get("size"):
            return f"file {name} has {path.stat().st_size} bytes, the manifest says {entry.get('size')} (truncated?)"
        if sha256_file(path) != entry.get("sha256"):
            return f"file {name} fails its sha256 checksum (corrupted)"
    return ""

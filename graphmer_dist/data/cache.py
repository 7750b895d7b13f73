"""Content-addressed dataset folders and their atomic installation.

A dataset's key hashes everything its content depends on: the corpus files (path, size, mtime), the
data-relevant config, `DATASET_FORMAT_VERSION` and the source of the code that builds it. The same
inputs give the same folder name, so a second build finds the first one's output; any change gives a
new folder. A folder counts only once
its `manifest.json` exists (written last), so a build killed half-way is rebuilt, never used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterable

from graphmer_dist.config import Config
from graphmer_dist.errors import DataError

DATASET_FORMAT_VERSION = 4  # 2: link-prediction query splits val_lp / test_lp; 3: triples.tsv tail_text;
# 4: train keeps only chunks with a triple (data.train_sequences), manifest num_train_sequences_left_out
"""Bump when the on-disk layout or the way sequences are built changes: old caches then miss."""
READABLE_FORMAT_VERSIONS: tuple[int, ...] = (1, 2, 3, 4)
"""Versions `open_dataset` accepts. Versions 1 and 2 lack the query splits or the tails' text, so a
dataset given explicitly (--dataset, data.dataset_dir) still trains, but `eval` asks for a rebuild;
the cache rebuilds anyway."""
MANIFEST = "manifest.json"
# Where a dataset is stored does not change what is in it; `workers` only changes how fast it is built.
_DATA_KEYS_NOT_HASHED = ("workers", "cache_dir", "dataset_dir", "corpus")


def code_fingerprint() -> str:
    """Hash of the source of the code that decides a dataset's content (KG extraction and this package),
    so a fixed extractor bug invalidates old caches without anyone remembering to bump a version."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*(package / "kg").rglob("*.py"), *(package / "data").rglob("*.py")]):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def dataset_key(config: Config, corpus_roots: Iterable[str], files: Iterable[str]) -> str:
    """Hash of (corpus file paths + sizes + mtimes, data config, model shapes, format version, code)."""
    data = {k: v for k, v in dataclasses.asdict(config.data).items() if k not in _DATA_KEYS_NOT_HASHED}
    digest = hashlib.sha256()
    header = {
        "format_version": DATASET_FORMAT_VERSION, "code": code_fingerprint(), "data": data,
        "corpus": sorted(corpus_roots), "vocab_size": config.model.vocab_size,
        "num_roots": config.model.num_roots, "leaves_per_root": config.model.leaves_per_root,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for path in sorted(set(files)):
        try:
            stat = os.stat(path)
            digest.update(f"\n{path}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
        except OSError:  # unreadable or vanished: the path alone still changes the key
            digest.update(f"\n{path}\t?".encode())
    return digest.hexdigest()[:20]


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a complete dataset folder, or None if the folder is missing or incomplete."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_replaceable(target: Path) -> None:
    """Refuse to build over a folder that holds something other than a (possibly partial) dataset."""
    if not target.exists():
        return
    if not target.is_dir():
        raise DataError(f"dataset output {target} exists and is not a folder; pass --out with a new folder path")
    entries = {p.name for p in target.iterdir()}
    looks_like_dataset = bool(entries & {MANIFEST, "shards", "tokenizer.json", "triples.tsv"})
    if entries and not looks_like_dataset:
        raise DataError(f"dataset output {target} is a non-empty folder that is not a dataset "
                        f"(it contains {sorted(entries)[:5]}); pass --out with an empty or new folder")


def staging_dir(target: Path) -> Path:
    """A fresh sibling folder to build into (same filesystem, so the final rename is atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def install(staging: Path, target: Path) -> None:
    """Move a finished build into place, replacing an older or incomplete dataset at `target`."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)

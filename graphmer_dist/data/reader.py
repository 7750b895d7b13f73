"""Open a built dataset: validate its manifest, memory-map its shards.

Opening never builds: a missing, incomplete or outdated folder is a `DataError` that says how to
(re)build it, so a training run cannot silently use half a dataset.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from graphmer_dist.config import ModelConfig
from graphmer_dist.data.cache import MANIFEST, READABLE_FORMAT_VERSIONS, read_manifest
from graphmer_dist.data.shards import ARRAY_NAMES
from graphmer_dist.data.splits import ALL_SPLITS
from graphmer_dist.data.tokenizer import VocabFlags, load_tokenizer, vocab_flags
from graphmer_dist.errors import DataError

_REBUILD = "build it with `graphmer-launch data --out {folder}` (add your --config/--corpus)"


class Dataset:
    """A complete dataset folder (docs/interfaces.md, "Dataset on disk")."""

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = path
        self.manifest = manifest

    @property
    def tokenizer_path(self) -> Path:
        return self.path / "tokenizer.json"

    @property
    def relations_path(self) -> Path:
        return self.path / "relations.json"

    @property
    def triples_path(self) -> Path:
        return self.path / "triples.tsv"

    def shard_sizes(self, split: str) -> list[int]:
        return [int(shard["num_sequences"]) for shard in self._shards(split)]

    def has_split(self, split: str) -> bool:
        """Whether the dataset was built with this split (val_lp/test_lp: format 2 and max_lp_sequences > 0)."""
        return split in self.manifest["shards"]

    def load_shard(self, split: str, index: int) -> dict[str, np.ndarray]:
        """The shard's arrays, memory-mapped read-only (rows are read from disk when indexed)."""
        shards = self._shards(split)
        if not 0 <= index < len(shards):
            raise IndexError(f"split '{split}' of {self.path} has {len(shards)} shard(s); no shard {index}")
        folder = self.path / shards[index]["dir"]
        try:
            return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAY_NAMES}
        except (OSError, ValueError) as exc:
            raise DataError(f"shard {folder} of dataset {self.path} cannot be read ({exc}); the dataset is "
                            f"damaged: delete the folder and {_REBUILD.format(folder=self.path)}") from None

    def vocab_flags(self) -> VocabFlags:
        return self._flags

    def check_compatible(self, model: ModelConfig) -> None:
        """Refuse to train or evaluate a model whose shapes differ from the ones this data was built for."""
        wanted = {"vocab_size": model.vocab_size, "num_roots": model.num_roots,
                  "leaves_per_root": model.leaves_per_root}
        differs = {k: (self.manifest.get(k), v) for k, v in wanted.items() if self.manifest.get(k) != v}
        if differs:
            detail = ", ".join(f"{k}: dataset {have}, model {want}" for k, (have, want) in differs.items())
            raise DataError(f"dataset {self.path} was built for other model shapes ({detail}); build a dataset "
                            f"with the same --config (graphmer-launch data --config ...) or use a matching config")

    @cached_property
    def _flags(self) -> VocabFlags:
        return vocab_flags(load_tokenizer(self.tokenizer_path), int(self.manifest["vocab_size"]))

    def _shards(self, split: str) -> list[dict]:
        if split not in ALL_SPLITS:
            raise ValueError(f"unknown split '{split}'; choose one of {list(ALL_SPLITS)}")
        return self.manifest["shards"].get(split, [])

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, sequences={self.manifest.get('num_sequences')})"


def open_dataset(path: str | Path) -> Dataset:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist; {_REBUILD.format(folder=folder)}")
    manifest = read_manifest(folder)
    if manifest is None:
        raise DataError(f"dataset folder {folder} is incomplete: it has no readable {MANIFEST} (a build was "
                        f"interrupted or this is not a dataset); {_REBUILD.format(folder=folder)}")
    version = manifest.get("format_version")
    if version not in READABLE_FORMAT_VERSIONS:
        readable = ", ".join(map(str, READABLE_FORMAT_VERSIONS))
        raise DataError(f"dataset {folder} has format version {version!r} but this graphmer-dist reads versions "
                        f"{readable}; rebuild it: {_REBUILD.format(folder=folder)}")
    return Dataset(folder, manifest)

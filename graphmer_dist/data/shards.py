"""Fixed-size shards: `shards/<split>/<index:05d>/{input_ids,leaf_relation,head_length}.npy`.

Every shard holds exactly `shard_size` sequences except a split's last one. Plain int32 `.npy`
files so readers memory-map them (`np.load(mmap_mode="r")`) and touch only the rows they use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphmer_dist.data.chains import Sequences
from graphmer_dist.data.node_stats import NodeCounter

ARRAY_NAMES: tuple[str, ...] = ("input_ids", "leaf_relation", "head_length")


class ShardWriter:
    """Buffers one split's sequences and writes a shard each time `shard_size` are collected; counts
    their non-empty nodes on the way (`nodes`, graphmer_dist/data/node_stats.py)."""

    def __init__(self, dataset_dir: Path, split: str, shard_size: int, num_roots: int) -> None:
        self._dataset_dir = dataset_dir
        self._split = split
        self._shard_size = shard_size
        self._buffer: dict[str, list[np.ndarray]] = {name: [] for name in ARRAY_NAMES}
        self._buffered = 0
        self.shards: list[dict[str, object]] = []
        self.num_sequences = 0
        self.num_injected = 0
        self.nodes = NodeCounter(num_roots)

    def add(self, sequences: Sequences) -> None:
        if len(sequences.input_ids) == 0:
            return
        for name in ARRAY_NAMES:
            self._buffer[name].append(getattr(sequences, name))
        self._buffered += len(sequences.input_ids)
        self.num_sequences += len(sequences.input_ids)
        self.num_injected += sequences.num_injected
        self.nodes.add(sequences.input_ids)
        while self._buffered >= self._shard_size:
            self._write(self._shard_size)

    def close(self) -> list[dict[str, object]]:
        """Write the last, partial shard; returns the manifest's shard list for this split."""
        if self._buffered:
            self._write(self._buffered)
        return self.shards

    def _write(self, rows: int) -> None:
        relative = f"shards/{self._split}/{len(self.shards):05d}"
        folder = self._dataset_dir / relative
        folder.mkdir(parents=True, exist_ok=True)
        for name in ARRAY_NAMES:
            joined = np.concatenate(self._buffer[name]) if len(self._buffer[name]) > 1 else self._buffer[name][0]
            np.save(folder / f"{name}.npy", np.ascontiguousarray(joined[:rows], dtype=np.int32))
            self._buffer[name] = [joined[rows:]] if rows < len(joined) else []
        self._buffered -= rows
        self.shards.append({"dir": relative, "num_sequences": rows})

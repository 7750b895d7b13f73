"""Micro-batches for one rank: sample indices from the sharded sampler → shard rows → masked batch.

Masking seeds are derived from (train.seed, epoch, global sample index) only, so a sample is masked the
same way whatever the batch it lands in, the number of workers, or whether the run was resumed. Nothing
is prefetched: the sampler's position after the last consumed micro-batch is exactly what a
checkpoint stores.
"""

from __future__ import annotations

import bisect
from typing import Iterator

import numpy as np
import torch

SHARD_KEYS = ("input_ids", "leaf_relation", "head_length")


def sample_seeds(seed: int, epoch: int, indices: np.ndarray) -> np.ndarray:
    """(B,) int64 masking seeds, a hash of (seed, epoch, index) per sample."""
    return np.array([np.random.SeedSequence((seed, epoch, int(i))).generate_state(1, np.uint64)[0] >> np.uint64(1)
                     for i in indices], dtype=np.int64)


class ShardRows:
    """Rows of a split by global index, reading memory-mapped shards lazily."""

    def __init__(self, dataset, split: str) -> None:
        self.dataset = dataset
        self.split = split
        self.sizes = list(dataset.shard_sizes(split))
        self.starts = np.cumsum([0] + self.sizes).tolist()
        self._shards: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.starts[-1]

    def gather(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        rows: dict[str, list[np.ndarray]] = {key: [] for key in SHARD_KEYS}
        for index in indices:
            shard = bisect.bisect_right(self.starts, int(index)) - 1
            arrays = self._shard(shard)
            for key in SHARD_KEYS:
                rows[key].append(np.asarray(arrays[key][int(index) - self.starts[shard]]))
        return {key: np.stack(values) for key, values in rows.items()}

    def _shard(self, i: int) -> dict[str, np.ndarray]:
        if i not in self._shards:
            self._shards[i] = self.dataset.load_shard(self.split, i)
        return self._shards[i]


class TrainBatches:
    """Endless micro-batches for this rank; `state_dict()` is the sampler position after the last one."""

    def __init__(self, rows: ShardRows, sampler, collator, micro_batch_size: int, seed: int) -> None:
        self.rows = rows
        self.sampler = sampler
        self.collator = collator
        self.micro_batch_size = micro_batch_size
        self.seed = seed

    def next_batch(self) -> tuple[dict[str, torch.Tensor], int]:
        """One masked micro-batch and its number of samples."""
        epoch, indices = self.sampler.next_indices(self.micro_batch_size)
        indices = np.asarray(indices, dtype=np.int64)
        batch = self.collator(self.rows.gather(indices), sample_seeds(self.seed, epoch, indices))
        return batch, len(indices)

    def state_dict(self) -> dict:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state)


def eval_batches(rows: ShardRows, collator, micro_batch_size: int, max_batches: int, seed: int,
                 rank: int, world_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """The first `max_batches` micro-batches of the split in order, strided over ranks: the same
    validation samples and masks at every evaluation, whatever the world size."""
    for b in range(rank, max_batches, world_size):
        indices = np.arange(b * micro_batch_size, min((b + 1) * micro_batch_size, len(rows)), dtype=np.int64)
        if len(indices) == 0:
            return
        yield collator(rows.gather(indices), sample_seeds(seed, 0, indices))

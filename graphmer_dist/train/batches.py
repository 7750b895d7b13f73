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
    """This rank's micro-batches of each optimizer step; `state_dict()` is the sampler position after
    the last step taken (the sampler's state is global, so it is the same on every rank)."""

    def __init__(self, rows: ShardRows, sampler, collator, micro_batch_size: int, seed: int) -> None:
        self.rows = rows
        self.sampler = sampler
        self.collator = collator
        self.micro_batch_size = micro_batch_size
        self.seed = seed

    def step_batches(self) -> Iterator[tuple[dict[str, torch.Tensor], int]]:
        """(masked micro-batch, samples in it) for each micro-batch of the next optimizer step."""
        share = self.sampler.next_batch()  # this rank's G/W samples of the global batch
        for start in range(0, len(share.indices), self.micro_batch_size):
            indices = share.indices[start:start + self.micro_batch_size]
            seeds = sample_seeds(self.seed, share.epoch, indices)
            yield self.collator(self.rows.gather(indices), seeds), len(indices)

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

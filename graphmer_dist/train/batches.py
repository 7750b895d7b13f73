"""Micro-batches for one rank: sample indices from the sharded sampler → shard rows → masked batch.

Masking seeds are derived from (train.seed, epoch, global sample index) only, so a sample is masked the
same way whatever the batch it lands in, the number of workers, or whether the run was resumed. Steps may be
prepared ahead (train.dataloader_workers > 0); the checkpointed position is still the last step trained.
"""

from __future__ import annotations

import bisect
import queue
import threading
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
    """This rank's micro-batches, one optimizer step at a time.

    With `prefetch` > 0 a background thread reads and masks up to that many steps ahead (the masking
    is numpy and mostly releases the GIL; it keeps a GPU fed). Each prepared step carries the sampler
    state *after* it, and `state_dict()` returns the one of the last step handed out — so a checkpoint
    records exactly what was trained on, however far the thread has read ahead. The sampler's state is
    global, hence the same on every rank.
    """

    def __init__(self, rows: ShardRows, sampler, collator, micro_batch_size: int, seed: int,
                 prefetch: int = 0) -> None:
        self.rows, self.sampler, self.collator = rows, sampler, collator
        self.micro_batch_size, self.seed, self.prefetch = micro_batch_size, seed, prefetch
        self._state = sampler.state_dict()
        self._queue: queue.Queue | None = None

    def step_batches(self) -> Iterator[tuple[dict[str, torch.Tensor], int]]:
        """(masked micro-batch, samples in it) for each micro-batch of the next optimizer step."""
        if self.prefetch == 0:
            prepared, self._state = self._prepare()
        else:
            if self._queue is None:
                self._start_thread()
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            prepared, self._state = item
        return iter(prepared)

    def _prepare(self) -> tuple[list[tuple[dict[str, torch.Tensor], int]], dict]:
        share = self.sampler.next_batch()  # this rank's G/W samples of the global batch
        prepared = []
        for start in range(0, len(share.indices), self.micro_batch_size):
            indices = share.indices[start:start + self.micro_batch_size]
            seeds = sample_seeds(self.seed, share.epoch, indices)
            prepared.append((self.collator(self.rows.gather(indices), seeds), len(indices)))
        return prepared, self.sampler.state_dict()

    def _start_thread(self) -> None:
        self._queue = queue.Queue(maxsize=self.prefetch)

        def produce() -> None:
            try:
                while True:
                    self._queue.put(self._prepare())
            except BaseException as exc:  # handed to the training thread, which raises it
                self._queue.put(exc)

        threading.Thread(target=produce, name="graphmer-batches", daemon=True).start()

    def state_dict(self) -> dict:
        return dict(self._state)

    def load_state_dict(self, state: dict) -> None:
        assert self._queue is None, "load the data position before the first step"
        self.sampler.load_state_dict(state)
        self._state = self.sampler.state_dict()


def eval_batches(rows: ShardRows, collator, micro_batch_size: int, max_batches: int, seed: int,
                 rank: int, world_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """The first `max_batches` micro-batches of the split in order, strided over ranks: the same
    validation samples and masks at every evaluation, whatever the world size."""
    for b in range(rank, max_batches, world_size):
        indices = np.arange(b * micro_batch_size, min((b + 1) * micro_batch_size, len(rows)), dtype=np.int64)
        if len(indices) == 0:
            return
        yield collator(rows.gather(indices), sample_seeds(seed, 0, indices))

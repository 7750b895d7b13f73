"""Which samples each rank trains on at each step: a global order fixed by (seed, epoch) alone.

The epoch's order shuffles the shard order, then the samples inside each shard, and concatenates them —
so a global batch reads from one or two memory-mapped shards at a time instead of all of them. Samples
are named by their global index (shard offset + row), which the loop also uses to derive each sample's
masking seed from (seed, epoch, index).

Each optimizer step consumes one global batch of G samples from the order; rank r of W takes the
contiguous slice [r·G/W, (r+1)·G/W) of it. The order never depends on W, so the union of the ranks'
samples at a step is the batch a single process would take. An epoch has ⌊total/G⌋ steps: the remainder
is dropped (it differs every epoch, since the order does), so every step has a full batch.

State is global, not per rank: (epoch, position = samples of this epoch already consumed). Resuming
with a different world size continues at the same global position, with the same samples per step —
only the split across ranks changes. A changed global batch size also continues at the same position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from graphmer_dist.errors import CheckpointError, ConfigError, DataError


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """This rank's share of one global batch."""

    epoch: int
    step_in_epoch: int
    indices: np.ndarray
    """Global sample indices (int64, G/W of them) in order."""
    shard: np.ndarray
    """Shard of each sample."""
    row: np.ndarray
    """Row of each sample inside its shard."""


class ShardedSampler:
    def __init__(self, shard_sizes: Sequence[int], seed: int, global_batch_size: int,
                 rank: int = 0, world_size: int = 1) -> None:
        if global_batch_size % world_size:
            raise ConfigError(f"config key 'train.global_batch_size': {global_batch_size} does not split evenly "
                              f"over {world_size} workers; make it a multiple of parallel.num_workers")
        assert 0 <= rank < world_size, f"rank {rank} outside world of {world_size}"
        self.shard_sizes = np.asarray(shard_sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.shard_sizes)])
        self.num_samples = int(self.offsets[-1])
        if self.num_samples < global_batch_size:
            raise DataError(f"the training split has {self.num_samples} sequences, fewer than one global batch "
                            f"(train.global_batch_size={global_batch_size}); use a larger corpus or a smaller "
                            "train.global_batch_size")
        self.seed, self.global_batch_size = seed, global_batch_size
        self.rank, self.world_size = rank, world_size
        self.epoch, self.position = 0, 0
        self._order_epoch, self._order = -1, np.empty(0, dtype=np.int64)

    @property
    def steps_per_epoch(self) -> int:
        return self.num_samples // self.global_batch_size

    def epoch_order(self, epoch: int) -> np.ndarray:
        """All global indices of `epoch` in training order; depends on (seed, epoch) only."""
        rng = np.random.default_rng([self.seed, epoch])
        parts = [self.offsets[s] + rng.permutation(self.shard_sizes[s]) for s in rng.permutation(len(self.shard_sizes))]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)

    def global_batch(self) -> np.ndarray:
        """The next step's G global indices (all ranks), without advancing."""
        self._roll_epoch_if_done()
        if self._order_epoch != self.epoch:
            self._order, self._order_epoch = self.epoch_order(self.epoch), self.epoch
        return self._order[self.position:self.position + self.global_batch_size]

    def next_batch(self) -> SampleBatch:
        """This rank's share of the next global batch; advances the position by one global batch."""
        batch = self.global_batch()
        share = self.global_batch_size // self.world_size
        indices = batch[self.rank * share:(self.rank + 1) * share]
        shard, row = self.locate(indices)
        step = self.position // self.global_batch_size
        result = SampleBatch(epoch=self.epoch, step_in_epoch=step, indices=indices, shard=shard, row=row)
        self.position += self.global_batch_size
        return result

    def locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shard, row inside the shard) of each global index."""
        shard = np.searchsorted(self.offsets, indices, side="right") - 1
        return shard, indices - self.offsets[shard]

    def _roll_epoch_if_done(self) -> None:
        if self.position + self.global_batch_size > self.num_samples:
            self.epoch, self.position = self.epoch + 1, 0

    def state_dict(self) -> dict[str, Any]:
        """Plain ints: the same on every rank, so rank 0's copy in the checkpoint is enough."""
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position,
                "num_samples": self.num_samples, "global_batch_size": self.global_batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue where `state` stopped; refuse a different dataset or seed (the order would differ)."""
        if int(state["num_samples"]) != self.num_samples:
            raise CheckpointError(f"the checkpoint's data position is for a training split of {state['num_samples']} "
                                  f"sequences, but this dataset has {self.num_samples}: the dataset changed. Resume "
                                  "with the dataset it was trained on, or start fresh with --resume never.")
        if int(state["seed"]) != self.seed:
            raise CheckpointError(f"the checkpoint was trained with train.seed={state['seed']}, this run has "
                                  f"{self.seed}; the sample order would change mid-run. Resume with --seed "
                                  f"{state['seed']} or start fresh with --resume never.")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

"""The sharded sampler: order fixed by (seed, epoch), independent of world size, exactly resumable."""

from __future__ import annotations

import numpy as np
import pytest

from graphmer_dist.errors import CheckpointError, ConfigError, DataError
from graphmer_dist.train.sampler import ShardedSampler

SHARDS = [37, 64, 5, 50]  # uneven on purpose: 156 samples
G = 12


def ranks(world_size: int, seed: int = 7, shards=SHARDS, g: int = G) -> list[ShardedSampler]:
    return [ShardedSampler(shards, seed=seed, global_batch_size=g, rank=r, world_size=world_size)
            for r in range(world_size)]


def steps(samplers: list[ShardedSampler], n: int) -> list[np.ndarray]:
    """The union of all ranks' indices at each of `n` steps, ranks concatenated in order."""
    return [np.concatenate([s.next_batch().indices for s in samplers]) for _ in range(n)]


def test_union_over_ranks_equals_the_single_process_batch():
    single = steps(ranks(1), 30)  # 30 steps > 13 per epoch: crosses two epoch boundaries
    for world in (2, 3, 4):
        assert all(np.array_equal(a, b) for a, b in zip(single, steps(ranks(world), 30)))


def test_ranks_take_disjoint_contiguous_shares():
    r0, r1 = ranks(2)
    b0, b1 = r0.next_batch(), r1.next_batch()
    assert len(b0.indices) == len(b1.indices) == G // 2
    assert not set(b0.indices) & set(b1.indices)


def test_an_epoch_visits_each_sample_at_most_once_and_drops_only_the_remainder():
    (sampler,) = ranks(1)
    seen = np.concatenate([sampler.next_batch().indices for _ in range(sampler.steps_per_epoch)])
    assert len(seen) == len(set(seen.tolist())) == (sum(SHARDS) // G) * G
    assert sampler.next_batch().epoch == 1


def test_shard_and_row_locate_each_sample():
    (sampler,) = ranks(1)
    batch = sampler.next_batch()
    offsets = np.cumsum([0] + SHARDS)
    assert np.array_equal(offsets[batch.shard] + batch.row, batch.indices)
    assert all(0 <= row < SHARDS[shard] for shard, row in zip(batch.shard, batch.row))


def test_shards_are_read_one_after_another():
    """Samples of a shard are contiguous in the epoch order, so reads stay inside one memory map."""
    (sampler,) = ranks(1)
    shard_of, _ = sampler.locate(sampler.epoch_order(0))
    changes = np.count_nonzero(np.diff(shard_of))
    assert changes == len(SHARDS) - 1


def test_epochs_and_seeds_give_different_orders_and_the_same_seed_the_same():
    (sampler,) = ranks(1)
    assert not np.array_equal(sampler.epoch_order(0), sampler.epoch_order(1))
    assert np.array_equal(sampler.epoch_order(3), ranks(1)[0].epoch_order(3))
    assert not np.array_equal(sampler.epoch_order(0), ranks(1, seed=8)[0].epoch_order(0))
    assert sorted(sampler.epoch_order(1).tolist()) == list(range(sum(SHARDS)))


@pytest.mark.parametrize("stop_after", [5, 13, 20])  # mid-epoch, exactly at the epoch end, in epoch 2
def test_resume_mid_epoch_continues_exactly(stop_after):
    uninterrupted = steps(ranks(2), 30)
    first = ranks(2)
    steps(first, stop_after)
    state = first[0].state_dict()
    assert all(s.state_dict() == state for s in first)  # global state: any rank's copy will do
    resumed = ranks(2)
    for s in resumed:
        s.load_state_dict(state)
    after = steps(resumed, 30 - stop_after)
    assert all(np.array_equal(a, b) for a, b in zip(uninterrupted[stop_after:], after))


def test_resume_with_a_different_world_size_continues_at_the_same_global_position():
    uninterrupted = steps(ranks(1), 20)
    first = ranks(2)
    steps(first, 7)
    resumed = ranks(4)
    for s in resumed:
        s.load_state_dict(first[0].state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(uninterrupted[7:], steps(resumed, 13)))


def test_resume_refuses_another_dataset_or_seed():
    state = ranks(1)[0].state_dict()
    with pytest.raises(CheckpointError, match=r"split of 156 sequences, but this dataset has 157: the dataset changed"):
        ranks(1, shards=SHARDS + [1])[0].load_state_dict(state)
    with pytest.raises(CheckpointError, match=r"train.seed=7, this run has 8.*--seed 7"):
        ranks(1, seed=8)[0].load_state_dict(state)


def test_bad_sizes_are_user_errors():
    with pytest.raises(DataError, match=r"3 sequences, fewer than one global batch \(train.global_batch_size=12\)"):
        ranks(1, shards=[1, 2])
    with pytest.raises(ConfigError, match=r"12 does not split evenly over 5 workers"):
        ranks(5)

"""Synthetic batches with the config's exact shapes and realistic content.

Roots are full chunks `[CLS] … [SEP]`; about one root in eight carries an injected triple (dense
injection, docs/design.md §1) with a 1..K-token tail and a 1..3-token head; the real masking collator
then masks 15% of roots in spans plus whole tails, so the heads see the usual number of targets.
"""

from __future__ import annotations

import numpy as np
import torch

from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.masking import MaskingCollator, VocabFlags
from graphmer_dist.relations import NUM_RELATION_IDS
from graphmer_dist.tokens import CLS_ID, SEP_ID, SPECIAL_TOKENS

TRIPLE_FRACTION = 0.125


def synthetic_arrays(model: ModelConfig, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    R, K, V = model.num_roots, model.leaves_per_root, model.vocab_size
    ids = np.zeros((batch_size, model.seq_len), dtype=np.int32)
    relation = np.zeros((batch_size, R), dtype=np.int32)
    head_length = np.zeros((batch_size, R), dtype=np.int32)
    ids[:, 0], ids[:, R - 1] = CLS_ID, SEP_ID
    ids[:, 1: R - 1] = rng.integers(len(SPECIAL_TOKENS), V, size=(batch_size, R - 2))
    num_triples = max(1, int(TRIPLE_FRACTION * R))
    for b in range(batch_size):
        for root in rng.choice(np.arange(1, R - 1), size=num_triples, replace=False):
            relation[b, root] = rng.integers(1, NUM_RELATION_IDS)
            head_length[b, root] = min(int(rng.integers(1, 4)), R - 1 - root)
            tail = int(rng.integers(1, K + 1))
            start = R + K * root
            ids[b, start: start + tail] = rng.integers(len(SPECIAL_TOKENS), V, size=tail)
    return {"input_ids": ids, "leaf_relation": relation, "head_length": head_length}


def synthetic_batches(model: ModelConfig, train: TrainConfig, batch_size: int, count: int,
                      seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """`count` distinct masked batches (the benchmark cycles through them)."""
    rng = np.random.default_rng(seed)
    flags = VocabFlags(begins_with_space=rng.random(model.vocab_size) < 0.4,
                       ends_with_non_identifier=rng.random(model.vocab_size) < 0.2)
    collator = MaskingCollator(model, train, flags)
    batches = []
    for i in range(count):
        arrays = synthetic_arrays(model, batch_size, rng)
        batches.append(collator(arrays, np.arange(i * batch_size, (i + 1) * batch_size, dtype=np.int64)))
    return batches

"""Link-prediction queries from a split's sequences (DESIGN.md §4).

One query per injected triple (leaf_relation ≠ 0): the sequence's roots unmasked, [MASK] in the first
leaf slot of the head's block, the relation set at the head, and every other leaf slot [PAD] — other
leaves of the sequence hold facts of the same split, possibly the very triple asked about (a head
mentioned twice carries its triples in rotation), so none of them may stay visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from graphmer_dist.config import ModelConfig
from graphmer_dist.tokens import MASK_ID, PAD_ID


@dataclass
class QueryBatch:
    """Q queries ready for the encoder, with what is needed to score them."""

    inputs: dict[str, torch.Tensor]   # input_ids (Q,N), attention_mask (Q,N), leaf_relation (Q,R), head_length (Q,R)
    position: torch.Tensor            # (Q,) index of the [MASK] in the flat sequence
    relation: np.ndarray              # (Q,) relation id
    tail: np.ndarray                  # (Q,K) the true tail's tokens (PAD-padded); tail[:, 0] is ranked
    head_ids: list[np.ndarray]        # the head mention's root tokens, for the filtered rank


def find_queries(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, roots) of every injected triple in a shard."""
    relation = np.asarray(arrays["leaf_relation"])
    rows, roots = np.nonzero(relation > 0)
    return rows, roots


def query_batches(arrays: dict[str, np.ndarray], model: ModelConfig, batch_size: int) -> Iterator[QueryBatch]:
    rows, roots = find_queries(arrays)
    for begin in range(0, len(rows), batch_size):
        yield make_batch(arrays, model, rows[begin:begin + batch_size], roots[begin:begin + batch_size])


def make_batch(arrays: dict[str, np.ndarray], model: ModelConfig, rows: np.ndarray, roots: np.ndarray) -> QueryBatch:
    R, K = model.num_roots, model.leaves_per_root
    q = np.arange(len(rows))
    ids = np.asarray(arrays["input_ids"][rows], dtype=np.int64)       # (Q, N) a copy, shards are read-only
    leaf_start = R + K * roots                                         # (Q,)
    tail = ids[q[:, None], leaf_start[:, None] + np.arange(K)]         # (Q, K)
    ids[:, R:] = PAD_ID
    ids[q, leaf_start] = MASK_ID
    relation_ids = np.asarray(arrays["leaf_relation"][rows, roots], dtype=np.int64)
    head_len = np.asarray(arrays["head_length"][rows, roots], dtype=np.int64)
    leaf_relation = np.zeros((len(rows), R), dtype=np.int64)
    head_length = np.zeros((len(rows), R), dtype=np.int64)
    leaf_relation[q, roots] = relation_ids
    head_length[q, roots] = head_len
    input_ids = torch.from_numpy(ids)
    inputs = {"input_ids": input_ids, "attention_mask": input_ids != PAD_ID,
              "leaf_relation": torch.from_numpy(leaf_relation), "head_length": torch.from_numpy(head_length)}
    heads = [ids[i, r:r + max(int(n), 1)] for i, (r, n) in enumerate(zip(roots, head_len))]
    return QueryBatch(inputs, torch.from_numpy(leaf_start), relation_ids, tail, heads)

"""Link-prediction queries and the packed inputs that score them (docs/design.md §4).

One query per injected triple (leaf_relation ≠ 0). A candidate tail of L tokens is scored under the
input training would show for a masked tail of L tokens: the roots unmasked, [MASK] in the first L
leaf slots of the head's block, the relation set at the head. Every other leaf slot is [PAD]: other
leaves of the sequence hold facts of the same split, possibly the very triple asked about (a head
mentioned twice carries its triples in rotation), so none of them may stay visible.

Several queries share a forward pass: one pass per (sequence, L) masks L slots at EVERY head of that
sequence that has a query needing length L. The heads' blocks then see each other's [MASK]s, as
masked tails see each other in training; no block ever sees a true tail.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from graphmer_dist.config import ModelConfig
from graphmer_dist.data import Dataset
from graphmer_dist.tokens import MASK_ID, PAD_ID


@dataclass(frozen=True)
class Query:
    shard: int
    row: int
    root: int                 # the head's first root token; its leaf block holds the tail
    relation: int
    head_length: int
    tail: tuple[int, ...]     # the true tail's token ids
    head_ids: np.ndarray      # the head mention's root tokens, to match the query back to the KG


@dataclass(frozen=True)
class Pass:
    """One sequence of a forward batch: `length` [MASK]s at the head of each of `queries`."""

    shard: int
    row: int
    length: int
    queries: tuple[int, ...]  # indices into the query list


def collect_queries(dataset: Dataset, split: str, model: ModelConfig, max_queries: int | None = None) -> list[Query]:
    """The split's queries in storage order (query splits are stored in a hash order, so the first
    n are a uniform sample)."""
    R, K = model.num_roots, model.leaves_per_root
    queries: list[Query] = []
    for shard in range(len(dataset.shard_sizes(split))):
        arrays = dataset.load_shard(split, shard)
        relation = np.asarray(arrays["leaf_relation"])
        for row, root in zip(*np.nonzero(relation > 0)):
            if max_queries is not None and len(queries) >= max_queries:
                return queries
            ids = np.asarray(arrays["input_ids"][row])
            head_length = int(arrays["head_length"][row, root])
            block = ids[R + K * root: R + K * (root + 1)]
            queries.append(Query(shard, int(row), int(root), int(relation[row, root]), head_length,
                                 tuple(int(t) for t in block if t != PAD_ID),
                                 ids[root: root + max(head_length, 1)].copy()))
    return queries


def plan_passes(queries: list[Query], lengths_needed: list[set[int]]) -> list[Pass]:
    """`lengths_needed[i]`: the tail lengths query i is scored at. One pass per (sequence, L)."""
    by_sequence: dict[tuple[int, int], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, query in enumerate(queries):
        for length in lengths_needed[index]:
            by_sequence[(query.shard, query.row)][length].append(index)
    return [Pass(shard, row, length, tuple(members))
            for (shard, row), lengths in by_sequence.items() for length, members in sorted(lengths.items())]


def pass_batches(passes: list[Pass], queries: list[Query], dataset: Dataset, split: str, model: ModelConfig,
                 batch_size: int) -> Iterator[tuple[list[Pass], dict[str, torch.Tensor]]]:
    shards: dict[int, np.ndarray] = {}
    for begin in range(0, len(passes), batch_size):
        chunk = passes[begin: begin + batch_size]
        for p in chunk:
            if p.shard not in shards:
                shards[p.shard] = dataset.load_shard(split, p.shard)["input_ids"]
        yield chunk, make_inputs(chunk, queries, shards, model)


def make_inputs(chunk: list[Pass], queries: list[Query], input_ids: dict[int, np.ndarray],
                model: ModelConfig) -> dict[str, torch.Tensor]:
    R, K = model.num_roots, model.leaves_per_root
    ids = np.full((len(chunk), model.seq_len), PAD_ID, dtype=np.int64)
    leaf_relation = np.zeros((len(chunk), R), dtype=np.int64)
    head_length = np.zeros((len(chunk), R), dtype=np.int64)
    for b, p in enumerate(chunk):
        ids[b, :R] = input_ids[p.shard][p.row, :R]
        for q in p.queries:
            query = queries[q]
            ids[b, R + K * query.root: R + K * query.root + p.length] = MASK_ID
            leaf_relation[b, query.root] = query.relation
            head_length[b, query.root] = query.head_length
    input_ids_t = torch.from_numpy(ids)
    return {"input_ids": input_ids_t, "attention_mask": input_ids_t != PAD_ID,
            "leaf_relation": torch.from_numpy(leaf_relation), "head_length": torch.from_numpy(head_length)}


def mask_positions(chunk: list[Pass], queries: list[Query], model: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch index, flat node position) of every [MASK] of the chunk, pass by pass and query by query
    in `Pass.queries` order, L consecutive slots each."""
    R, K = model.num_roots, model.leaves_per_root
    batch, position = [], []
    for b, p in enumerate(chunk):
        for q in p.queries:
            start = R + K * queries[q].root
            batch.extend([b] * p.length)
            position.extend(range(start, start + p.length))
    return torch.tensor(batch), torch.tensor(position)


def masked_logits(model: torch.nn.Module, inputs: dict[str, torch.Tensor], batch: torch.Tensor,
                  position: torch.Tensor) -> torch.Tensor:
    """The model's token scores (P, V) at (sequence, flat node position) pairs, the way training
    scores masked nodes (`GraphMERForPretraining.token_logits`)."""
    hidden, layout = model.encoder.encode(**inputs)                    # (B, L, d)
    return model.token_logits(hidden, layout, inputs["input_ids"], batch, position)

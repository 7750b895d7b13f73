"""Leafy chain graphs from one file's tokens and the KG mentions in it (docs/design.md §1).

Roots are the file's token stream cut into chunks of R-2 tokens wrapped as [CLS] … [SEP]. Each root
token that starts a mention of an entity heading a triple of this split gets ONE triple: the tail's
tokens go into the root's leaf block (leaf j of root i at R + K·i + j), its relation id into
`leaf_relation[i]` and the number of tokens the mention covers into `head_length[i]`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from graphmer_dist.tokens import CLS_ID, PAD_ID, SEP_ID


class MentionLike(Protocol):
    entity: str
    start: int
    end: int


@dataclass(frozen=True)
class Injection:
    """A triple ready to inject: its relation id and the tail's token ids (≤ K of them)."""

    relation_id: int
    tail_ids: np.ndarray


class TripleIndex:
    """The injectable triples of one split, by head entity, with a deterministic rotation.

    Each time an entity is injected it takes the next of its triples, so successive mentions of the
    same entity carry different facts instead of repeating the first one.
    """

    def __init__(self, options: dict[str, list[Injection]]) -> None:
        self._options = {head: opts for head, opts in options.items() if opts}
        self._next: dict[str, int] = defaultdict(int)

    def __contains__(self, entity: str) -> bool:
        return entity in self._options

    def take(self, entity: str) -> Injection | None:
        options = self._options.get(entity)
        if not options:
            return None
        turn = self._next[entity]
        self._next[entity] = turn + 1
        return options[turn % len(options)]


@dataclass
class Sequences:
    """The arrays of S sequences (the shard layout of docs/interfaces.md)."""

    input_ids: np.ndarray      # (S, N) int32
    leaf_relation: np.ndarray  # (S, R) int32
    head_length: np.ndarray    # (S, R) int32
    num_injected: int

    def with_triples(self) -> Sequences:
        """Only the sequences that carry at least one injected triple (`data.train_sequences`)."""
        keep = self.leaf_relation.any(axis=1)
        return Sequences(self.input_ids[keep], self.leaf_relation[keep], self.head_length[keep], self.num_injected)


def chunk_roots(ids: np.ndarray, num_roots: int, seq_len: int) -> np.ndarray:
    """(S, N) int32 with roots filled as [CLS] chunk [SEP] [PAD]…, leaves all [PAD]."""
    body = num_roots - 2
    count = -(-len(ids) // body)
    out = np.full((count, seq_len), PAD_ID, dtype=np.int32)
    if count == 0:
        return out
    padded = np.full(count * body, PAD_ID, dtype=np.int32)
    padded[: len(ids)] = ids
    out[:, 1 : num_roots - 1] = padded.reshape(count, body)
    out[:, 0] = CLS_ID
    lengths = np.full(count, body)
    lengths[-1] = len(ids) - body * (count - 1)
    out[np.arange(count), lengths + 1] = SEP_ID  # right after each chunk's last token
    return out


def mention_token_spans(offsets: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For char spans [start, end): the index of the token containing `start` and the token count up
    to the token containing `end - 1`. Offsets are (T, 2) char offsets of the encoded text."""
    token_ends = offsets[:, 1]
    # The first token whose end lies past the char; tokens sharing offsets (one multi-byte char split
    # into several byte tokens) resolve to the first of them.
    first = np.searchsorted(token_ends, starts, side="right")
    last = np.searchsorted(token_ends, np.maximum(ends - 1, starts), side="right")
    return first, last - first + 1


def build_file_sequences(ids: np.ndarray, offsets: np.ndarray, mentions: Sequence[MentionLike],
                         index: TripleIndex, num_roots: int, leaves_per_root: int) -> Sequences:
    """All sequences of one file, with the split's triples injected at the mentions."""
    seq_len = num_roots * (leaves_per_root + 1)
    input_ids = chunk_roots(ids, num_roots, seq_len)
    count = len(input_ids)
    leaf_relation = np.zeros((count, num_roots), dtype=np.int32)
    head_length = np.zeros((count, num_roots), dtype=np.int32)
    usable = [m for m in mentions if m.entity in index and 0 <= m.start < m.end]
    if not usable or len(ids) == 0:
        return Sequences(input_ids, leaf_relation, head_length, 0)
    usable.sort(key=lambda m: (m.start, m.end, m.entity))  # injection order must not depend on KG order
    starts = np.fromiter((m.start for m in usable), dtype=np.int64, count=len(usable))
    ends = np.fromiter((m.end for m in usable), dtype=np.int64, count=len(usable))
    first, length = mention_token_spans(offsets, starts, ends)
    body = num_roots - 2
    taken: set[int] = set()
    for mention, token, span in zip(usable, first.tolist(), length.tolist()):
        if token >= len(ids) or token in taken:
            continue
        injection = index.take(mention.entity)
        if injection is None:
            continue
        taken.add(token)
        row, root = divmod(token, body)
        root += 1  # position 0 is [CLS]
        leaf = num_roots + leaves_per_root * root
        input_ids[row, leaf : leaf + len(injection.tail_ids)] = injection.tail_ids
        leaf_relation[row, root] = injection.relation_id
        # A head cut by the chunk end covers only the tokens left in this chunk.
        head_length[row, root] = min(span, num_roots - 1 - root)
    return Sequences(input_ids, leaf_relation, head_length, len(taken))

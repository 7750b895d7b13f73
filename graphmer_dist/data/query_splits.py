"""Link-prediction query splits `val_lp` / `test_lp`: enough held-out facts to score, still held out.

The plain val/test splits inject a held-out triple only into sequences of held-out FILES (5% of files),
so few held-out facts meet a mention of their head there: on the stdlib only a few dozen of ~5,000
test triples became queries. What is held out is the fact, not the code text, so these splits take
chunks of ANY file (train files too) that mention the head of a val/test triple and inject ONLY that
split's triples, with the same layout and rotation as the other splits. Training never reads them,
and no train sequence carries a val/test fact, so the hold-out stays honest.

Only sequences with at least one injected triple are kept, at most `data.max_lp_sequences` per split.
The cap keeps the sequences with the smallest stable hash of (file, chunk): the same ones on every
machine and rebuild, whatever order the files come in, and written in that hash order so that
`eval --max-queries` scores a uniform sample rather than the first files alphabetically.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from graphmer_dist.data.chains import Sequences, TripleIndex, build_file_sequences
from graphmer_dist.data.shards import ShardWriter
from graphmer_dist.data.splits import stable_fraction


@dataclass(order=True)
class _Kept:
    neg_key: float                                          # max-heap on the key: the root is dropped first
    chunk: str
    arrays: tuple[np.ndarray, ...] = field(compare=False)  # input_ids (N,), leaf_relation (R,), head_length (R,)
    injected: int = field(compare=False)


class QuerySplitSampler:
    """Collects one link-prediction split's candidate sequences, keeping a deterministic sample."""

    def __init__(self, split: str, index: TripleIndex, cap: int) -> None:
        self.split = split
        self.index = index
        self.cap = cap
        self.num_candidates = 0
        self._heap: list[_Kept] = []

    def add_file(self, relative_path: str, ids: np.ndarray, offsets: np.ndarray, mentions,
                 num_roots: int, leaves_per_root: int) -> None:
        """Build this file's sequences with the split's facts; offer those carrying any to the sample."""
        if not any(m.entity in self.index for m in mentions):
            return  # most files: no head of this split is mentioned, skip building their chunks
        sequences = build_file_sequences(ids, offsets, mentions, self.index, num_roots, leaves_per_root)
        injected = (sequences.leaf_relation > 0).sum(axis=1)
        for row in np.flatnonzero(injected):
            self.num_candidates += 1
            chunk = f"{relative_path}\x00{row}"
            arrays = (sequences.input_ids, sequences.leaf_relation, sequences.head_length)
            rows = tuple(a[row].copy() for a in arrays)  # copies: a view would pin the whole file's arrays
            kept = _Kept(-stable_fraction(self.split, chunk), chunk, rows, int(injected[row]))
            if len(self._heap) < self.cap:
                heapq.heappush(self._heap, kept)
            elif kept > self._heap[0]:  # a smaller key than the largest kept one
                heapq.heapreplace(self._heap, kept)

    def write(self, writer: ShardWriter) -> list[dict[str, object]]:
        """Write the sample in key order; returns the split's shard list."""
        for kept in sorted(self._heap, reverse=True):  # largest neg_key = smallest key first
            input_ids, leaf_relation, head_length = (a[None] for a in kept.arrays)
            writer.add(Sequences(input_ids, leaf_relation, head_length, kept.injected))
        return writer.close()

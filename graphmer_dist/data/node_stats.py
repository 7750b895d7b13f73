"""How many nodes of each sequence hold a token: the work of the unpadded model, summarised per split.

The unpadded model (model/layout.py) computes only a sequence's non-empty nodes, and a batch's longest
sequence sets its length L — so the plan sizes memory from this distribution (launch/data_shape.py), not
from N. Counted while the shards are written: one histogram of counts 0..N per split, so the
percentiles are exact at the cost of a few KB, whatever the corpus size.

Manifest entry (`nodes_per_sequence` {split: ...}): `mean`, `p50`, `p99`, `max` non-empty nodes per
sequence (roots and leaves); `leaf_mean`, `leaf_p99`, `leaf_max` the same for the leaf slots alone;
`leaf_fill` = leaf_mean / (R·K), the fraction of leaf slots filled. Percentiles are nearest-rank: the
smallest count that at least that share of the sequences do not exceed.
"""

from __future__ import annotations

import numpy as np

from graphmer_dist.tokens import PAD_ID


class NodeCounter:
    """Histograms of non-empty nodes (all, and leaves only) over the sequences added."""

    def __init__(self, num_roots: int) -> None:
        self.num_roots = num_roots
        self._nodes = np.zeros(0, dtype=np.int64)
        self._leaves = np.zeros(0, dtype=np.int64)
        self.leaf_slots = 0

    def add(self, input_ids: np.ndarray) -> None:
        """(S, N) token ids of S sequences."""
        filled = np.asarray(input_ids) != PAD_ID
        self.leaf_slots = filled.shape[1] - self.num_roots
        self._nodes = _add_counts(self._nodes, filled.sum(axis=1))
        self._leaves = _add_counts(self._leaves, filled[:, self.num_roots:].sum(axis=1))

    @property
    def num_sequences(self) -> int:
        return int(self._nodes.sum())

    def summary(self) -> dict[str, float | int]:
        """The manifest's entry for these sequences (all zeros when there are none)."""
        nodes, leaves = _describe(self._nodes), _describe(self._leaves)
        filled = float((np.arange(len(self._leaves)) * self._leaves).sum())
        fill = filled / (self.num_sequences * self.leaf_slots) if self.leaf_slots and self.num_sequences else 0.0
        return {**nodes, **{f"leaf_{k}": v for k, v in leaves.items() if k != "p50"}, "leaf_fill": round(fill, 5)}


def _add_counts(histogram: np.ndarray, counts: np.ndarray) -> np.ndarray:
    added = np.bincount(counts, minlength=len(histogram))
    if len(added) > len(histogram):
        histogram = np.concatenate([histogram, np.zeros(len(added) - len(histogram), dtype=np.int64)])
    return histogram + added


def _describe(histogram: np.ndarray) -> dict[str, float | int]:
    total = int(histogram.sum())
    if total == 0:
        return {"mean": 0.0, "p50": 0, "p99": 0, "max": 0}
    values = np.arange(len(histogram))
    below = np.cumsum(histogram)

    def rank(q: float) -> int:
        return int(np.searchsorted(below, q * total))   # first count whose cumulative share reaches q

    return {"mean": round(float((values * histogram).sum()) / total, 3), "p50": rank(0.5), "p99": rank(0.99),
            "max": int(np.flatnonzero(histogram)[-1])}

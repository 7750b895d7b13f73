"""Ranks and the metrics made of them (MRR, Hits@1, Hits@10), overall and per relation."""

from __future__ import annotations

import numpy as np

from graphmer_dist.relations import RELATIONS

METRICS = ("mrr", "hits_at_1", "hits_at_10")


def rank(scores: np.ndarray, true_index: int, excluded: np.ndarray | list[int] = ()) -> int:
    """1 = best. Ties count against the true candidate (a constant scorer gets the worst rank, not the
    best); `excluded` candidates (other true answers, for the filtered rank) are not counted."""
    at_least = scores >= scores[true_index]
    at_least[true_index] = False
    at_least[np.asarray(excluded, dtype=np.int64)] = False
    return 1 + int(at_least.sum())


def metrics(ranks: np.ndarray, prefix: str = "") -> dict[str, float | None]:
    """MRR/Hits over ranks; None (not 0) when there is nothing to rank."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if len(ranks) == 0:
        return {f"{prefix}{name}": None for name in METRICS}
    return {f"{prefix}mrr": float(np.mean(1.0 / ranks)), f"{prefix}hits_at_1": float(np.mean(ranks <= 1)),
            f"{prefix}hits_at_10": float(np.mean(ranks <= 10))}


def summarize(ranks: dict[str, np.ndarray], relation: np.ndarray) -> dict:
    """`ranks`: metric prefix → (Q,) ranks, aligned with `relation` (Q,) ids. Overall metrics plus
    `per_relation` {name: the same + num_queries}."""
    out: dict = {"num_queries": int(len(relation))}
    for prefix, values in ranks.items():
        out.update(metrics(values, prefix))
    per_relation = {}
    for rel in np.unique(relation):
        chosen = relation == rel
        entry: dict = {"num_queries": int(chosen.sum())}
        for prefix, values in ranks.items():
            entry.update(metrics(values[chosen], prefix))
        per_relation[RELATIONS[int(rel) - 1]] = entry
    out["per_relation"] = dict(sorted(per_relation.items()))
    return out


def ratio(value: float | None, baseline: float | None) -> float | None:
    return value / baseline if value is not None and baseline else None

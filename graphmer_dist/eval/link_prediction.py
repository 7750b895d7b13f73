"""Tail prediction at the head's first leaf slot: ranks, then MRR and Hits@k overall and per relation."""

from __future__ import annotations

import contextlib
from collections import defaultdict

import numpy as np
import torch

from graphmer_dist.data import Dataset
from graphmer_dist.eval.filters import TailFilter
from graphmer_dist.eval.queries import QueryBatch, query_batches
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.relations import RELATIONS
from graphmer_dist.tokens import SPECIAL_TOKENS


@torch.inference_mode()
def rank_batch(model: GraphMERForPretraining, batch: QueryBatch, tail_filter: TailFilter | None,
               device: torch.device, autocast: contextlib.AbstractContextManager) -> tuple[np.ndarray, np.ndarray]:
    """(raw ranks, filtered ranks), 1 = best. Special tokens are never candidates (no tail contains
    one); ties count against the true tail, so a constant model gets the worst rank, not the best."""
    inputs = {k: v.to(device) for k, v in batch.inputs.items()}
    with autocast:
        hidden = model.encoder(**inputs)                                       # (Q, N, d)
        q = torch.arange(len(batch.position), device=device)
        logits = model.mlm_logits(hidden[q, batch.position.to(device)]).float()  # (Q, V)
    logits[:, : len(SPECIAL_TOKENS)] = float("-inf")
    target = torch.from_numpy(batch.tail[:, 0]).to(device)
    raw = _ranks(logits, target)
    if tail_filter is None:
        return raw, raw
    for i in range(len(target)):
        drop = tail_filter.excluded(int(batch.relation[i]), batch.tail[i], batch.head_ids[i])
        if drop:
            logits[i, torch.tensor(sorted(drop), device=device)] = float("-inf")
    return raw, _ranks(logits, target)


def _ranks(logits: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    true = logits.gather(1, target[:, None])                                   # (Q, 1)
    better_or_tied = (logits >= true).sum(dim=1)                               # includes the true tail itself
    return better_or_tied.cpu().numpy().astype(np.int64)


def link_prediction(model: GraphMERForPretraining, dataset: Dataset, split: str, tail_filter: TailFilter | None,
                    device: torch.device, autocast, batch_size: int = 64,
                    max_queries: int | None = None) -> dict:
    ranks: dict[str, list[np.ndarray]] = {"raw": [], "filtered": [], "relation": []}
    seen = 0
    for index in range(len(dataset.shard_sizes(split))):
        for batch in query_batches(dataset.load_shard(split, index), model.config, batch_size):
            if max_queries is not None and seen >= max_queries:
                break
            raw, filtered = rank_batch(model, batch, tail_filter, device, autocast)
            keep = len(raw) if max_queries is None else min(len(raw), max_queries - seen)
            ranks["raw"].append(raw[:keep])
            ranks["filtered"].append(filtered[:keep])
            ranks["relation"].append(batch.relation[:keep])
            seen += keep
    return summarize({k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in ranks.items()})


def summarize(ranks: dict[str, np.ndarray]) -> dict:
    """Overall and per-relation metrics from raw/filtered ranks and each query's relation id."""
    out = {**_metrics(ranks["raw"], ""), **_metrics(ranks["filtered"], "filtered_"),
           "num_queries": int(len(ranks["raw"]))}
    per_relation = defaultdict(dict)
    for rel in np.unique(ranks["relation"]):
        chosen = ranks["relation"] == rel
        name = RELATIONS[int(rel) - 1]
        per_relation[name] = {**_metrics(ranks["raw"][chosen], ""),
                              **_metrics(ranks["filtered"][chosen], "filtered_"),
                              "num_queries": int(chosen.sum())}
    out["per_relation"] = dict(sorted(per_relation.items()))
    return out


def _metrics(ranks: np.ndarray, prefix: str) -> dict[str, float | None]:
    if len(ranks) == 0:
        return {f"{prefix}mrr": None, f"{prefix}hits_at_1": None, f"{prefix}hits_at_10": None}
    return {f"{prefix}mrr": float(np.mean(1.0 / ranks)), f"{prefix}hits_at_1": float(np.mean(ranks <= 1)),
            f"{prefix}hits_at_10": float(np.mean(ranks <= 10))}

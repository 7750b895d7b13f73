"""MLM (roots) and MNM (leaves) accuracy on a split, with the training masking collator.

Masks come from fixed per-sequence seeds (the sequence's index in the split), so two evaluations of
the same checkpoint agree exactly and two checkpoints are scored on the same masks.
"""

from __future__ import annotations

import numpy as np
import torch

from graphmer_dist.data import Dataset
from graphmer_dist.masking import MaskingCollator
from graphmer_dist.model import GraphMERForPretraining

EVAL_SEED_OFFSET = 1 << 40  # keeps evaluation masks apart from the training loop's seeds


@torch.inference_mode()
def masked_accuracy(model: GraphMERForPretraining, dataset: Dataset, split: str, collator: MaskingCollator,
                    device: torch.device, autocast, batch_size: int = 32,
                    max_sequences: int | None = None) -> dict[str, float | int | None]:
    totals = {"root_correct": 0, "root_count": 0, "leaf_correct": 0, "leaf_count": 0, "loss_sum": 0.0}
    done = 0
    for index, size in enumerate(dataset.shard_sizes(split)):
        arrays = dataset.load_shard(split, index)
        for begin in range(0, size, batch_size):
            end = min(begin + batch_size, size)
            if max_sequences is not None:
                end = min(end, begin + max_sequences - done)
            if end <= begin:
                break
            seeds = EVAL_SEED_OFFSET + done + np.arange(end - begin, dtype=np.int64)
            batch = collator({k: np.asarray(v[begin:end]) for k, v in arrays.items()}, seeds)
            with autocast:
                out = model(**{k: v.to(device) for k, v in batch.items()})
            for key in ("root_correct", "root_count", "leaf_correct", "leaf_count"):
                totals[key] += int(out[key])
            totals["loss_sum"] += float(out["mlm_loss"]) * (end - begin)
            done += end - begin
    return {
        "mlm_accuracy": _ratio(totals["root_correct"], totals["root_count"]),
        "mnm_accuracy": _ratio(totals["leaf_correct"], totals["leaf_count"]),
        "mlm_masked_roots": totals["root_count"], "mnm_masked_leaves": totals["leaf_count"],
        "mlm_loss": totals["loss_sum"] / done if done else None, "num_sequences": done,
    }


def _ratio(correct: int, count: int) -> float | None:
    return correct / count if count else None

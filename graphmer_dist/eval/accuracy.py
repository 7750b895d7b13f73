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
from graphmer_dist.tokens import SPECIAL_TOKENS

EVAL_SEED_OFFSET = 1 << 40  # keeps evaluation masks apart from the training loop's seeds


@torch.inference_mode()
def masked_accuracy(model: GraphMERForPretraining, dataset: Dataset, split: str, collator: MaskingCollator,
                    device: torch.device, autocast, batch_size: int = 32, max_sequences: int | None = None,
                    baseline_token: int = -1, enough_roots: int | None = None) -> dict[str, float | int | None]:
    """Over the split's first sequences: all, `max_sequences`, or (when that is None) as many batches as
    it takes to mask `enough_roots` roots. `mlm_baseline_accuracy`: how many masked roots a model that
    always says `baseline_token` gets right."""
    totals = {"root_correct": 0, "root_count": 0, "leaf_correct": 0, "leaf_count": 0, "loss_sum": 0.0,
              "root_baseline": 0}
    R = model.config.num_roots
    done = 0
    for rows in _row_batches(dataset, split, batch_size, max_sequences):
        if max_sequences is None and enough_roots is not None and totals["root_count"] >= enough_roots:
            break
        seeds = EVAL_SEED_OFFSET + done + np.arange(len(rows["input_ids"]), dtype=np.int64)
        batch = collator(rows, seeds)
        with autocast:
            out = model(**{k: v.to(device) for k, v in batch.items()})
        for key in ("root_correct", "root_count", "leaf_correct", "leaf_count"):
            totals[key] += int(out[key])
        totals["loss_sum"] += float(out["mlm_loss"]) * len(seeds)
        totals["root_baseline"] += int((batch["labels"][:, :R] == baseline_token).sum())
        done += len(seeds)
    return {
        "mlm_accuracy": _ratio(totals["root_correct"], totals["root_count"]),
        "mnm_accuracy": _ratio(totals["leaf_correct"], totals["leaf_count"]),
        "mlm_baseline_accuracy": _ratio(totals["root_baseline"], totals["root_count"]),
        "mlm_masked_roots": totals["root_count"], "mnm_masked_leaves": totals["leaf_count"],
        "mlm_loss": totals["loss_sum"] / done if done else None, "num_sequences": done,
    }


def _row_batches(dataset: Dataset, split: str, batch_size: int, max_sequences: int | None):
    """The split's sequences in order, `batch_size` rows at a time, at most `max_sequences` in all."""
    left = max_sequences
    for index, size in enumerate(dataset.shard_sizes(split)):
        arrays = dataset.load_shard(split, index)
        for begin in range(0, size, batch_size):
            end = min(begin + batch_size, size) if left is None else min(begin + batch_size, size, begin + left)
            if end <= begin:
                return
            yield {k: np.asarray(v[begin:end]) for k, v in arrays.items()}
            left = None if left is None else left - (end - begin)


def unigram_token(dataset: Dataset, max_shards: int = 16) -> int:
    """The most frequent real root token of the train split (the unigram baseline's only answer)."""
    counts = np.zeros(int(dataset.manifest["vocab_size"]), dtype=np.int64)
    R = int(dataset.manifest["num_roots"])
    for index in range(min(len(dataset.shard_sizes("train")), max_shards)):
        roots = np.asarray(dataset.load_shard("train", index)["input_ids"][:, :R]).ravel()
        counts += np.bincount(roots, minlength=len(counts))[: len(counts)]
    counts[: len(SPECIAL_TOKENS)] = 0
    return int(counts.argmax())


def _ratio(correct: int, count: int) -> float | None:
    return correct / count if count else None

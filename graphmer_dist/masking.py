"""`MaskingCollator`: turns B unmasked dataset rows into a training batch (docs/design.md §3 "Masking").

Roots: span masking to `train.mask_fraction` of the real roots; span lengths 1..max_span_length from
a truncated geometric (p = train.span_geometric_p); spans start at word starts. For a byte-level BPE
a word start is a token that begins with the space marker or follows a token ending in a
non-identifier character (WordPiece's `##` rule does not apply). Spans never touch [CLS]/[SEP]/[PAD]
and never touch each other, so both boundaries of every span are visible to the SBO head.
Leaves: each injected tail is chosen with probability `train.leaf_mask_prob` and masked whole.
Every masked token: 80% [MASK], 10% a random non-special token, 10% unchanged (leaves: always [MASK]
under `train.leaf_corruption: mask`); labels −100 elsewhere.
Each sample uses its own seed, so a mask never depends on batch composition or world size.

With a `TailPool` and `train.tail_negatives` C > 0, every masked tail also gets C negative tails of its
relation and length (tail_pool.py), drawn from the same per-sample stream after the masks (so the
masks are the same with or without them): batch keys `tail_block` (T, 2) (sequence, root) and
`tail_negatives` (T, C, K), read by the tail-ranking loss (model/pretraining.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.tail_pool import TailPool
from graphmer_dist.data.tokenizer import VocabFlags  # built from the tokenizer; re-exported here
from graphmer_dist.tokens import CLS_ID, MASK_ID, PAD_ID, SPECIAL_TOKENS

IGNORE = -100
__all__ = ["IGNORE", "MaskingCollator", "VocabFlags"]


@dataclass
class _Sample:
    """One masked sequence, before stacking."""

    input_ids: np.ndarray
    labels: np.ndarray
    sbo: list[tuple[int, int, int, int]]     # (left, right, offset, label)
    tail_roots: np.ndarray | None = None     # roots whose tail is masked, with negatives
    tail_negatives: np.ndarray | None = None  # (T, C, K) their negative tails


class MaskingCollator:
    def __init__(self, model: ModelConfig, train: TrainConfig, flags: VocabFlags,
                 tail_pool: TailPool | None = None) -> None:
        self.model, self.train, self.flags = model, train, flags
        self.tail_pool = tail_pool if train.tail_negatives > 0 else None
        lengths = np.arange(1, model.max_span_length + 1)
        weights = train.span_geometric_p * (1 - train.span_geometric_p) ** (lengths - 1)
        self.span_lengths, self.span_probs = lengths, weights / weights.sum()

    @classmethod
    def for_dataset(cls, model: ModelConfig, train: TrainConfig, dataset) -> "MaskingCollator":
        """The training collator of `dataset`; with train.tail_negatives > 0 it reads the train tails."""
        pool = (TailPool.from_dataset(dataset, model.leaves_per_root, model.vocab_size)
                if train.tail_negatives > 0 else None)
        return cls(model, train, dataset.vocab_flags(), pool)

    def __call__(self, arrays: dict[str, np.ndarray], seeds: np.ndarray) -> dict[str, torch.Tensor]:
        ids = np.asarray(arrays["input_ids"], dtype=np.int64)
        relation = np.asarray(arrays["leaf_relation"], dtype=np.int64)
        samples = [self.mask_one(ids[b], relation[b], int(seeds[b])) for b in range(len(ids))]
        sbo = [(b, *row) for b, s in enumerate(samples) for row in s.sbo]
        sbo_array = np.asarray(sbo, dtype=np.int64).reshape(-1, 5)
        batch = {
            "input_ids": torch.from_numpy(np.stack([s.input_ids for s in samples])),
            "labels": torch.from_numpy(np.stack([s.labels for s in samples])),
            "attention_mask": torch.from_numpy(ids != PAD_ID),
            "leaf_relation": torch.from_numpy(relation),
            "head_length": torch.from_numpy(np.asarray(arrays["head_length"], dtype=np.int64)),
            "sbo_index": torch.from_numpy(np.ascontiguousarray(sbo_array[:, :4])),
            "sbo_labels": torch.from_numpy(np.ascontiguousarray(sbo_array[:, 4])),
        }
        if self.tail_pool is not None:
            blocks = [(b, int(root)) for b, s in enumerate(samples) for root in s.tail_roots]
            shape = (0, self.train.tail_negatives, self.model.leaves_per_root)
            batch["tail_block"] = torch.tensor(blocks, dtype=torch.int64).reshape(-1, 2)
            batch["tail_negatives"] = torch.from_numpy(np.concatenate([s.tail_negatives for s in samples]
                                                                      + [np.zeros(shape, dtype=np.int64)]))
        return batch

    def mask_one(self, ids: np.ndarray, relation: np.ndarray, seed: int) -> _Sample:
        rng = np.random.default_rng(seed)
        chosen = np.zeros(len(ids), dtype=bool)
        spans = self._root_spans(ids[: self.model.num_roots], rng)
        for start, end in spans:
            chosen[start: end + 1] = True
        leaves = self._leaf_choice(ids, relation, rng)
        chosen |= leaves
        labels = np.where(chosen, ids, IGNORE)
        masked = self._replace(ids, chosen, rng)
        if self.train.leaf_corruption == "mask":
            masked[leaves] = MASK_ID
        sbo = [(s - 1, e + 1, k - s, int(ids[k])) for s, e in spans for k in range(s, e + 1)]
        if self.tail_pool is None:
            return _Sample(masked, labels, sbo)
        roots, negatives = self._negatives(ids, relation, leaves, rng)
        return _Sample(masked, labels, sbo, roots, negatives)

    def _negatives(self, ids: np.ndarray, relation: np.ndarray, leaves: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(roots whose tail is masked (T,), their negatives (T, C, K)) from the tail pool."""
        R, K, C = self.model.num_roots, self.model.leaves_per_root, self.train.tail_negatives
        blocks = ids[R:].reshape(R, K)
        roots = np.flatnonzero(leaves[R:].reshape(R, K).any(axis=1))
        negatives = np.zeros((len(roots), C, K), dtype=np.int64)
        for i, root in enumerate(roots):
            tail = blocks[root][blocks[root] != PAD_ID]
            negatives[i] = self.tail_pool.sample(relation[root], tail, C, rng)
        return roots, negatives

    def word_starts(self, roots: np.ndarray) -> np.ndarray:
        """(R,) bool: real tokens that begin a word (space marker, or after a non-identifier/special)."""
        real = roots >= len(SPECIAL_TOKENS)
        previous = np.concatenate([[CLS_ID], roots[:-1]])
        after_boundary = (previous < len(SPECIAL_TOKENS)) | self.flags.ends_with_non_identifier[previous]
        return real & (self.flags.begins_with_space[roots] | after_boundary)

    def _root_spans(self, roots: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int]]:
        """Spans (start, end inclusive) covering ≈ mask_fraction of the real roots.

        Every masked root blocks its neighbours, so spans never touch and both SBO boundaries of a
        span stay unmasked; specials are blocked from the start.
        """
        real = roots >= len(SPECIAL_TOKENS)
        budget = int(round(self.train.mask_fraction * real.sum()))
        starts = np.flatnonzero(self.word_starts(roots))
        blocked = ~real
        spans: list[tuple[int, int]] = []
        for _ in range(4 * len(roots)):           # bounded: a crowded sequence may not fit its budget
            if budget <= 0 or not len(starts):
                break
            start = int(rng.choice(starts))
            length = min(int(rng.choice(self.span_lengths, p=self.span_probs)), budget)
            if blocked[start]:
                continue
            end = start
            while end + 1 < start + length and not blocked[end + 1]:
                end += 1
            spans.append((start, end))
            blocked[start - 1: end + 2] = True
            budget -= end - start + 1
        return sorted(spans)

    def _leaf_choice(self, ids: np.ndarray, relation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(N,) bool: every token of each tail chosen with probability leaf_mask_prob."""
        R, K = self.model.num_roots, self.model.leaves_per_root
        picked = (relation > 0) & (rng.random(R) < self.train.leaf_mask_prob)      # (R,)
        chosen = np.zeros(len(ids), dtype=bool)
        chosen[R:] = np.repeat(picked, K) & (ids[R:] != PAD_ID)
        return chosen

    def _replace(self, ids: np.ndarray, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """80% [MASK], 10% random non-special token, 10% unchanged, on the chosen positions."""
        draw = rng.random(len(ids))
        random_ids = rng.integers(len(SPECIAL_TOKENS), self.model.vocab_size, size=len(ids))
        out = ids.copy()
        out[chosen & (draw < 0.8)] = MASK_ID
        use_random = chosen & (draw >= 0.8) & (draw < 0.9)
        out[use_random] = random_ids[use_random]
        return out

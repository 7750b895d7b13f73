"""The train facts' distinct tails by (relation, length): negatives for the tail-ranking loss.

Link prediction ranks a held-out fact's tail among the relation's candidate tail strings, each length
normalised over that length's candidates (eval/link_prediction.py). The tail-ranking loss
(`train.tail_negatives`, model/pretraining.py) trains that ranking directly: a masked tail's summed
token log-probabilities against those of tails drawn from this pool — the same relation, the same
length, uniformly over distinct strings as the candidates are. Only train facts feed it, so no
held-out tail is ever shown as a negative.
"""

from __future__ import annotations

import numpy as np

from graphmer_dist.tokens import PAD_ID

Tail = tuple[int, ...]


class TailPool:
    def __init__(self, tails: dict[tuple[int, int], list[Tail]], max_tail: int) -> None:
        """tails: (relation id, length) → distinct tails (token ids) of that relation and length."""
        self.max_tail = max_tail
        self._blocks = {key: np.asarray(sorted(values), dtype=np.int64) for key, values in tails.items() if values}
        self._index = {key: {tuple(row.tolist()): i for i, row in enumerate(block)}
                       for key, block in self._blocks.items()}

    @classmethod
    def from_dataset(cls, dataset, max_tail: int, vocab_size: int) -> "TailPool":
        """The train tails among link prediction's own candidates (eval/facts.py `FactIndex`, the one
        owner of what a candidate tail is: its tokens, its length bound), so negatives and candidates
        never drift apart."""
        from graphmer_dist.data.tokenizer import load_tokenizer
        from graphmer_dist.eval.facts import FactIndex, read_facts

        facts = FactIndex(read_facts(dataset.triples_path), load_tokenizer(dataset.tokenizer_path), max_tail,
                          vocab_size, wanted=set())
        tails: dict[tuple[int, int], list[Tail]] = {}
        for relation, candidates in facts.candidates.items():
            for length, (offset, ids) in candidates.by_length.items():
                seen_in_train = candidates.train_count[offset: offset + len(ids)] > 0
                tails[(relation, length)] = [tuple(row) for row in ids[seen_in_train].tolist()]
        return cls(tails, max_tail)

    def __len__(self) -> int:
        return sum(len(block) for block in self._blocks.values())

    def sample(self, relation: int, tail: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        """(count, max_tail) int64: tails of `relation` as long as `tail`, drawn uniformly with
        replacement, [PAD] after their length. A draw that is `tail` itself, or any draw when the pool
        holds no other tail of that length, is a row of [PAD]: the loss leaves such rows out."""
        out = np.full((count, self.max_tail), PAD_ID, dtype=np.int64)
        key = (int(relation), len(tail))
        block = self._blocks.get(key)
        if block is None:
            return out
        drawn = rng.integers(len(block), size=count)
        keep = drawn != self._index[key].get(tuple(int(t) for t in tail), -1)
        out[keep, : len(tail)] = block[drawn[keep]]
        return out

"""The KG's facts as eval needs them: candidate tails per relation, train counts, other true tails.

A candidate is a tail *string* as injected into leaves (triples.tsv's `tail_text`), identified by its
token ids: two entities with the same surface (`run` of two classes) are one candidate. Shards hold
token ids, not entity names, so a query is matched back to its head through its tokens: the heads
that have a fact (head, relation, tail) whose tail reads as the query's tail, narrowed to those whose
short name occurs in the head mention's text. Their other tails are the query's other true tails.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from graphmer_dist.data.tokenizer import encode_tails
from graphmer_dist.errors import DataError
from graphmer_dist.relations import RELATION_ID

Tail = tuple[int, ...]  # a candidate tail's token ids


Fact = tuple[str, str, str, str, str]  # head, relation, tail, split, tail_text: a line of triples.tsv


@dataclass
class Candidates:
    """The distinct tails of one relation, ordered by (length, ids) so each length is one block."""

    tails: list[Tail]
    index: dict[Tail, int]
    by_length: dict[int, tuple[int, np.ndarray]]  # L -> (offset of the block, (C_L, L) token ids)
    train_count: np.ndarray                        # (C,) how often each tail is a train fact's tail

    @classmethod
    def build(cls, counts: dict[Tail, int]) -> "Candidates":
        tails = sorted(counts, key=lambda t: (len(t), t))
        lengths = np.fromiter(map(len, tails), dtype=np.int64, count=len(tails))
        by_length = {}
        for length in np.unique(lengths).tolist():
            begin, end = np.searchsorted(lengths, [length, length + 1]).tolist()
            by_length[length] = (begin, np.asarray(tails[begin:end], dtype=np.int64))
        return cls(tails, {t: i for i, t in enumerate(tails)}, by_length,
                   np.asarray([counts[t] for t in tails], dtype=np.float64))


class FactIndex:
    """Candidates and train counts of every relation; other true tails of the `wanted` (relation, tail)
    pairs only (the queries'), which keeps building it a few passes over the facts."""

    def __init__(self, facts: list[Fact], tokenizer: Tokenizer, max_tail: int, vocab_size: int,
                 wanted: set[tuple[int, Tail]]) -> None:
        self._tokenizer = tokenizer
        counts = Counter((relation, text, split == "train") for _, relation, _, split, text in facts)
        texts = sorted({text for _, text, _ in counts})
        ids = {text: tuple(a.tolist()) for text, a in zip(texts, encode_tails(tokenizer, texts))}
        by_relation: dict[int, Counter[Tail]] = defaultdict(Counter)
        for (relation, text, train), count in counts.items():
            if 0 < len(ids[text]) <= max_tail:  # longer tails are never injected (docs/design.md §1)
                by_relation[RELATION_ID[relation]][ids[text]] += count if train else 0
        self.candidates = {rel: Candidates.build(c) for rel, c in by_relation.items()}
        self.first_token_count = {rel: _first_token_counts(c, vocab_size) for rel, c in by_relation.items()}
        self._heads_by_tail: dict[tuple[int, Tail], set[str]] = defaultdict(set)
        for head, relation, _, _, text in facts:
            key = (RELATION_ID[relation], ids[text])
            if key in wanted:
                self._heads_by_tail[key].add(head)
        heads = {(h, rel) for (rel, _), hs in self._heads_by_tail.items() for h in hs}
        self._tails_of: dict[tuple[str, int], set[Tail]] = defaultdict(set)
        for head, relation, _, _, text in facts:
            if (head, RELATION_ID[relation]) in heads and 0 < len(ids[text]) <= max_tail:
                self._tails_of[(head, RELATION_ID[relation])].add(ids[text])

    def true_tails(self, relation: int, tail: Tail, head_ids: np.ndarray) -> set[Tail]:
        """Every true tail of the query's (head, relation), the query's own tail included. Only for
        the `wanted` pairs."""
        heads = self._heads_by_tail.get((relation, tail), set())
        mention = self._tokenizer.decode([int(t) for t in head_ids])
        named = {h for h in heads if h.rsplit(".", 1)[-1] in mention}
        return {tail}.union(*(self._tails_of[(h, relation)] for h in (named or heads)))


def _first_token_counts(counts: Counter[Tail], vocab_size: int) -> np.ndarray:
    out = np.zeros(vocab_size, dtype=np.float64)
    for tail, count in counts.items():
        out[tail[0]] += count
    return out


def read_facts(path: Path) -> list[Fact]:
    """Every fact of every split: filtering removes true facts wherever they are held out."""
    try:
        rows = [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc}); rebuild the dataset with `graphmer-launch data`") from None
    for number, row in enumerate(rows, start=1):
        if len(row) == 5 and row[1] in RELATION_ID:
            continue
        if len(row) == 4:
            raise DataError(f"{path} has no tail_text column: the dataset was built before whole-tail link "
                            "prediction. Rebuild it with `graphmer-launch data` (same --config), or evaluate "
                            "without --dataset to use the run's own, rebuilt in the cache")
        raise DataError(f"{path}:{number} is not 'head<TAB>relation<TAB>tail<TAB>split<TAB>tail_text' with a "
                        "known relation; the dataset is damaged or from another version — rebuild it")
    return rows

"""Other true tails of a query's (head, relation), for the filtered rank.

Shards hold token ids, not entity names, so a query is matched back to the KG through its tokens:
the heads that have a triple (head, relation, tail) whose tail reads as the query's tail tokens,
narrowed to those whose short name occurs in the head mention's text. Every other tail of those
(head, relation) pairs is removed from the ranking, except the true tail's own first token.

A tail is injected as `surface(entity, kind)`: the last dotted part, or the full dotted name for
modules. triples.tsv does not record kinds, so both spellings are indexed; removing a spelling that
was never injected can only lift a rank slightly, and only in the filtered numbers.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from graphmer_dist.data.tokenizer import encode_tails
from graphmer_dist.errors import DataError
from graphmer_dist.relations import RELATION_ID
from graphmer_dist.tokens import PAD_ID


class TailFilter:
    def __init__(self, triples: list[tuple[str, str, str]], tokenizer: Tokenizer, max_tail: int) -> None:
        self._tokenizer = tokenizer
        tails = sorted({t for _, _, t in triples})
        spellings = sorted({s for t in tails for s in _spellings(t)})
        tokens = dict(zip(spellings, (tuple(a.tolist()) for a in encode_tails(tokenizer, spellings))))
        self._heads_by_tail: dict[tuple[int, tuple[int, ...]], set[str]] = defaultdict(set)
        self._first_tokens: dict[tuple[str, int], set[int]] = defaultdict(set)
        for head, relation, tail in triples:
            rel = RELATION_ID[relation]
            for spelling in _spellings(tail):
                ids = tokens[spelling]
                if 0 < len(ids) <= max_tail:
                    self._heads_by_tail[(rel, ids)].add(head)
                    self._first_tokens[(head, rel)].add(ids[0])

    def excluded(self, relation: int, tail: np.ndarray, head_ids: np.ndarray) -> set[int]:
        """Token ids to drop from this query's ranking (never the true tail's first token)."""
        tail_ids = tuple(int(t) for t in tail if t != PAD_ID)
        heads = self._heads_by_tail.get((relation, tail_ids), set())
        mention = self._tokenizer.decode([int(t) for t in head_ids])
        named = {h for h in heads if h.rsplit(".", 1)[-1] in mention}
        others = set().union(*(self._first_tokens[(h, relation)] for h in (named or heads)))
        others.discard(tail_ids[0] if tail_ids else -1)
        return others


def read_triples(path: Path) -> list[tuple[str, str, str]]:
    """(head, relation, tail) of every split: filtering removes true facts wherever they are held out."""
    triples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc}); rebuild the dataset with `graphmer-launch data`") from None
    for number, line in enumerate(lines, start=1):
        parts = line.split("\t")
        if len(parts) != 4 or parts[1] not in RELATION_ID:
            raise DataError(f"{path}:{number} is not 'head<TAB>relation<TAB>tail<TAB>split' with a known "
                            "relation; the dataset is damaged or from another version — rebuild it")
        triples.append((parts[0], parts[1], parts[2]))
    return triples


def _spellings(entity: str) -> tuple[str, ...]:
    short = entity.rsplit(".", 1)[-1]
    return (short,) if short == entity else (short, entity)

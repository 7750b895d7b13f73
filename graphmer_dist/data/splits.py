"""Deterministic train/val/test assignment by a stable hash.

Python's `hash()` is salted per process, so we hash with blake2b: the same file or fact lands in the
same split on every machine and every rebuild. Files are split by their corpus-relative path.

Facts are split by their unordered entity pair (`data.triple_split_by=entity_pair`): every fact about
the same two entities, in any relation and direction, lands in one split. Split by (head, relation)
(the older `head_relation`), 62% of test facts had their reverse in train — test (m, defined_in, C)
beside train (C, contains, m), tests/tested_by alike — answerable without reading any code, the
inverse-relation leak of link-prediction benchmarks. The manifest counts what is left of it.
"""

from __future__ import annotations

import hashlib

SPLITS: tuple[str, ...] = ("train", "val", "test")
# Link-prediction query splits: sequences of any file carrying only val/test facts (data/query_splits.py).
LP_SPLITS: dict[str, str] = {"val_lp": "val", "test_lp": "test"}
ALL_SPLITS: tuple[str, ...] = (*SPLITS, *LP_SPLITS)


def stable_fraction(salt: str, key: str) -> float:
    """A number in [0, 1) that depends only on (salt, key)."""
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_split(fraction: float, val_fraction: float, test_fraction: float) -> str:
    if fraction < test_fraction:
        return "test"
    if fraction < test_fraction + val_fraction:
        return "val"
    return "train"


def file_split(relative_path: str, val_fraction: float, test_fraction: float) -> str:
    # Posix separators so the split does not depend on the OS that built the dataset.
    key = relative_path.replace("\\", "/")
    return assign_split(stable_fraction("file", key), val_fraction, test_fraction)


def triple_split(head: str, relation: str, tail: str, val_fraction: float, test_fraction: float,
                 by: str = "entity_pair") -> str:
    if by == "head_relation":
        return assign_split(stable_fraction("triple", f"{head}\t{relation}"), val_fraction, test_fraction)
    return assign_split(stable_fraction("pair", "\t".join(sorted((head, tail)))), val_fraction, test_fraction)


def pair_shortcuts(triples, splits: list[str]) -> dict[str, int]:
    """Held-out facts (val, test) whose two entities also share a train fact, in any relation or
    direction: answerable from that fact alone. 0 under the entity-pair split."""
    in_train = {_pair(t) for t, split in zip(triples, splits) if split == "train"}
    return {held_out: sum(1 for t, split in zip(triples, splits) if split == held_out and _pair(t) in in_train)
            for held_out in ("val", "test")}


def _pair(triple) -> frozenset[str]:
    return frozenset((triple.head, triple.tail))

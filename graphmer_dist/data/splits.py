"""Deterministic train/val/test assignment by a stable hash.

Python's `hash()` is salted per process, so we hash with blake2b: the same file or fact lands in the
same split on every machine and every rebuild. Files are split by their corpus-relative path; triples
by (head, relation), so every fact about a (head, relation) pair is held out together and the
model cannot answer a test query by having seen the same question with another tail in training.
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


def triple_split(head: str, relation: str, val_fraction: float, test_fraction: float) -> str:
    return assign_split(stable_fraction("triple", f"{head}\t{relation}"), val_fraction, test_fraction)

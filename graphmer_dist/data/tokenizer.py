"""The corpus tokenizer: a byte-level BPE trained with the `tokenizers` library.

Byte-level means every string is encodable (no [UNK] in practice) and a token's text starts with 'Ġ'
when it carries a leading space. The special tokens are listed first, in the order of
`graphmer_dist.tokens`, so their ids are fixed ([PAD]=0 … [UNK]=4); `train_tokenizer` checks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from graphmer_dist.errors import DataError
from graphmer_dist.tokens import SPECIAL_TOKENS

SPACE_MARKER = "Ġ"  # byte-level BPE's rendering of a leading space byte
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]")


@dataclass(frozen=True)
class VocabFlags:
    """Per token id: the two facts the masking collator's word-start rule needs (docs/design.md §3)."""

    begins_with_space: np.ndarray
    """(V,) bool: the token starts with the byte-level space marker."""
    ends_with_non_identifier: np.ndarray
    """(V,) bool: the token's last character is not [A-Za-z0-9_], so the next token starts a word."""


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int,
                    num_texts: int | None = None) -> Tokenizer:
    """Train on an iterator of texts (the Rust trainer streams it; no Python-side concatenation)."""
    tokenizer = Tokenizer(models.BPE())
    # No prefix space: code is tokenized exactly as written, so character offsets map back to the text.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer, length=num_texts)
    for expected_id, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.token_to_id(token) == expected_id, f"special token {token} is not id {expected_id}"
    assert tokenizer.get_vocab_size() <= vocab_size
    return tokenizer


def load_tokenizer(path: str | Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises a bare Exception for any unreadable file
        raise DataError(f"cannot read tokenizer {path}: {exc}; rebuild the dataset with `graphmer-launch data`") from None


def vocab_flags(tokenizer: Tokenizer, vocab_size: int | None = None) -> VocabFlags:
    """Flags for ids 0..V-1; V defaults to the tokenizer's size (the model's may be larger: unused ids
    get begins_with_space=False, ends_with_non_identifier=True)."""
    size = vocab_size or tokenizer.get_vocab_size()
    begins = np.zeros(size, dtype=bool)
    ends_non_ident = np.ones(size, dtype=bool)
    for token, token_id in tokenizer.get_vocab().items():
        if token_id >= size or token in SPECIAL_TOKENS:
            continue
        begins[token_id] = token.startswith(SPACE_MARKER)
        # Byte-level renders ASCII letters, digits and '_' as themselves, so the raw token text suffices.
        ends_non_ident[token_id] = not _IDENTIFIER_CHAR.fullmatch(token[-1])
    return VocabFlags(begins_with_space=begins, ends_with_non_identifier=ends_non_ident)


def encode_tails(tokenizer: Tokenizer, surfaces: list[str]) -> list[np.ndarray]:
    """Token ids of each tail as injected into leaves: the surface text with a leading space, so a
    tail is tokenized as it would be when written after another word in code."""
    encodings = tokenizer.encode_batch([" " + s for s in surfaces], add_special_tokens=False)
    return [np.asarray(e.ids, dtype=np.int32) for e in encodings]

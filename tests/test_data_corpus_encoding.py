"""The tokenizer trained and the corpus encoded beside the KG's linking, in a real helper process."""

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures.datasets import TINY_DATASET_OVERRIDES, copy_stdlib_packages
from graphmer_dist.config_loader import load_config
from graphmer_dist.data import build_dataset, corpus_encoding
from graphmer_dist.data.corpus_encoding import encode_beside, encode_corpus
from graphmer_dist.errors import DataError

# Non-ASCII on purpose: char offsets, not byte offsets, must come back from the helper.
TEXTS = ["def größe(x):\n    return x * 2  # ½ of 𝔘\n", "", "class Café:\n    pass\n" * 40,
         "import os\nprint(os.getcwd())\n" * 25]


def test_the_helper_gives_the_same_tokenizer_and_arrays_as_this_process():
    here = encode_corpus(TEXTS, 300, 1)
    beside = encode_beside(TEXTS, 300, 1).result()
    assert beside.tokenizer.to_str() == here.tokenizer.to_str()
    assert len(beside.ids) == len(beside.offsets) == len(TEXTS)
    for ids_a, ids_b, off_a, off_b in zip(here.ids, beside.ids, here.offsets, beside.offsets):
        assert ids_b.dtype == np.int32 and off_b.dtype == np.int64 and off_b.shape == (len(ids_b), 2)
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(off_a, off_b)
    assert len(beside.ids[1]) == 0  # the empty file keeps its place
    text, offsets = TEXTS[0], beside.offsets[0]
    assert offsets[-1, 1] == len(text)  # char offsets: the text has multi-byte characters before the end


def test_a_helper_that_fails_is_a_data_error_naming_the_way_around():
    with pytest.raises(DataError, match="data.workers=1"):
        encode_beside(TEXTS, 1, 1).result()  # a vocabulary smaller than the special tokens fails in the helper


def test_a_build_that_tokenizes_beside_linking_writes_the_same_dataset(tmp_path, monkeypatch):
    corpus = copy_stdlib_packages(tmp_path / "corpus", ("json", "email"))
    here = build_dataset(load_config("tiny", TINY_DATASET_OVERRIDES), [str(corpus)], tmp_path / "here",
                         log=lambda message: None)
    monkeypatch.setattr(corpus_encoding, "HELPER_MIN_CHARS", 0)  # this small corpus too goes to the helper
    helpers = []
    monkeypatch.setattr(corpus_encoding, "encode_beside", lambda *args: helpers.append(encode_beside(*args))
                        or helpers[-1])
    beside = build_dataset(load_config("tiny", [*TINY_DATASET_OVERRIDES, "data.workers=2"]), [str(corpus)],
                           tmp_path / "beside", log=lambda message: None)
    files = sorted(p.relative_to(here) for p in here.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert files and files == sorted(p.relative_to(beside) for p in beside.rglob("*")
                                     if p.is_file() and p.name != "manifest.json")
    for relative in files:
        assert (here / relative).read_bytes() == (beside / relative).read_bytes(), relative
    assert len(helpers) == 1
    assert _phase_keys(beside) == {"kg", "waiting_for_tokens", "sequences", "tokenizer", "encode"}


def _phase_keys(folder: Path) -> set[str]:
    return set(json.loads((folder / "manifest.json").read_text())["phase_seconds"])

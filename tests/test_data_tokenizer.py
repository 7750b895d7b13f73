"""Byte-level BPE: fixed special ids, char offsets back to mentions, word-start flags, tail encoding."""

import json
from pathlib import Path

import numpy as np
import pytest

from graphmer_dist.data.chains import mention_token_spans
from graphmer_dist.data.tokenizer import encode_tails, load_tokenizer, train_tokenizer, vocab_flags
from graphmer_dist.errors import DataError
from graphmer_dist.tokens import SPECIAL_TOKENS

SAMPLE = '''import json.decoder

class JSONDecoder(object):
    """Décodeur — naïve ünïcode docstring."""

    def decode(self, s, _w=WHITESPACE.match):
        obj, end = self.raw_decode(s, idx=_w(s, 0).end())
        return obj
'''


@pytest.fixture(scope="module")
def tokenizer():
    texts = [SAMPLE * 3, Path(json.__file__).read_text(encoding="utf-8")]
    return train_tokenizer(iter(texts), vocab_size=400, min_frequency=2, num_texts=len(texts))


def test_special_tokens_have_the_fixed_ids_and_survive_save_and_load(tokenizer, tmp_path):
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    loaded = load_tokenizer(path)
    assert [loaded.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    assert loaded.get_vocab_size() <= 400
    assert loaded.encode(SAMPLE).ids == tokenizer.encode(SAMPLE).ids


def test_text_round_trips_through_bytes_without_unknown_tokens(tokenizer):
    enc = tokenizer.encode(SAMPLE, add_special_tokens=False)
    assert 4 not in enc.ids  # [UNK]: byte-level covers every byte
    assert tokenizer.decode(enc.ids) == SAMPLE


@pytest.mark.parametrize("context, name", [("self.raw_decode", "raw_decode"), ("naïve", "naïve"),
                                           ("class JSONDecoder", "JSONDecoder"), ("def decode", "decode")])
def test_offsets_map_a_mention_char_span_to_its_tokens(tokenizer, context, name):
    enc = tokenizer.encode(SAMPLE, add_special_tokens=False)
    offsets = np.asarray(enc.offsets).reshape(-1, 2)
    start = SAMPLE.index(context) + context.index(name)
    first, length = mention_token_spans(offsets, np.array([start]), np.array([start + len(name)]))
    covered = tokenizer.decode(enc.ids[first[0] : first[0] + length[0]])
    assert covered.strip() == name


def test_vocab_flags_follow_the_byte_level_word_start_rule(tokenizer):
    flags = vocab_flags(tokenizer, vocab_size=450)
    assert flags.begins_with_space.shape == (450,) and flags.ends_with_non_identifier.shape == (450,)
    vocab = tokenizer.get_vocab()
    assert flags.begins_with_space[vocab["Ġ"]] and not flags.begins_with_space[vocab["a"]]
    assert flags.ends_with_non_identifier[vocab["("]] and not flags.ends_with_non_identifier[vocab["_"]]
    assert not flags.ends_with_non_identifier[vocab["a"]] and not flags.ends_with_non_identifier[vocab["7"]]
    assert flags.ends_with_non_identifier[0] and not flags.begins_with_space[0]  # [PAD]
    assert flags.ends_with_non_identifier[449]  # unused id beyond the trained vocabulary
    for token, token_id in vocab.items():
        assert flags.begins_with_space[token_id] == token.startswith("Ġ")


def test_tails_are_encoded_with_a_leading_space(tokenizer):
    (decode,) = encode_tails(tokenizer, ["decode"])
    assert decode.dtype == np.int32
    assert tokenizer.decode(decode.tolist()) == " decode"
    assert tokenizer.id_to_token(int(decode[0])).startswith("Ġ")


def test_an_unreadable_tokenizer_file_is_a_data_error(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"cannot read tokenizer .*tokenizer.json.*rebuild the dataset"):
        load_tokenizer(bad)

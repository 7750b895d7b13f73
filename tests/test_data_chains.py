"""Leafy-chain layout: roots, leaf positions (leaf j of root i at R + K·i + j), head_length, rotation."""

from dataclasses import dataclass

import numpy as np
from graphmer_dist.data.chains import Injection, TripleIndex, build_file_sequences, chunk_roots, mention_token_spans
from graphmer_dist.tokens import CLS_ID, PAD_ID, SEP_ID

R, K = 6, 3  # 4 body tokens per sequence, N = 24


@dataclass(frozen=True)
class M:
    entity: str
    start: int
    end: int


def one_char_tokens(n: int, first_id: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """n tokens, token t covering char t (so mention char spans equal token spans)."""
    ids = np.arange(first_id, first_id + n, dtype=np.int32)
    offsets = np.stack([np.arange(n), np.arange(1, n + 1)], axis=1)
    return ids, offsets


def test_chunk_roots_wraps_each_chunk_in_cls_sep_and_pads():
    ids = np.arange(100, 110, dtype=np.int32)  # 10 tokens → chunks of 4, 4, 2
    out = chunk_roots(ids, R, R * (K + 1))
    assert out.shape == (3, 24) and out.dtype == np.int32
    assert out[:, 0].tolist() == [CLS_ID] * 3
    assert out[0, :R].tolist() == [CLS_ID, 100, 101, 102, 103, SEP_ID]
    assert out[2, :R].tolist() == [CLS_ID, 108, 109, SEP_ID, PAD_ID, PAD_ID]
    assert (out[:, R:] == PAD_ID).all()


def test_chunk_roots_of_an_empty_file_is_empty():
    assert chunk_roots(np.zeros(0, dtype=np.int32), R, 24).shape == (0, 24)


def test_leaf_j_of_root_i_holds_tail_token_j():
    ids, offsets = one_char_tokens(10)
    index = TripleIndex({"a": [Injection(5, np.array([7, 8, 9], dtype=np.int32))],
                         "b": [Injection(2, np.array([11], dtype=np.int32))]})
    seqs = build_file_sequences(ids, offsets, [M("a", 1, 2), M("b", 6, 7)], index, R, K)
    # token 1 → sequence 0, root 2; token 6 → sequence 1, root 6 - 4 + 1 = 3
    assert seqs.input_ids[0, R + K * 2 : R + K * 2 + 3].tolist() == [7, 8, 9]
    assert seqs.input_ids[1, R + K * 3].item() == 11
    assert seqs.input_ids[1, R + K * 3 + 1 : R + K * 4].tolist() == [PAD_ID, PAD_ID]
    assert seqs.leaf_relation[0].tolist() == [0, 0, 5, 0, 0, 0]
    assert seqs.leaf_relation[1].tolist() == [0, 0, 0, 2, 0, 0]
    assert seqs.num_injected == 2
    # Nothing else was written into leaves.
    assert (seqs.input_ids[:, R:] != PAD_ID).sum() == 4


def test_head_length_counts_the_tokens_of_the_mention_and_stops_at_the_chunk_end():
    text = "alpha.beta gamma"
    ids = np.arange(100, 105, dtype=np.int32)
    offsets = np.array([[0, 5], [5, 6], [6, 10], [10, 16], [16, 16]])
    first, length = mention_token_spans(offsets, np.array([0, 6, 0]), np.array([10, 10, 16]))
    assert first.tolist() == [0, 2, 0] and length.tolist() == [3, 1, 4]
    index = TripleIndex({"h": [Injection(1, np.array([9], dtype=np.int32))]})
    seqs = build_file_sequences(ids, offsets, [M("h", 0, len(text))], index, R, K)
    assert seqs.head_length[0, 1] == 4  # roots 1..4 hold the mention, [SEP] at 5
    index = TripleIndex({"h": [Injection(1, np.array([9], dtype=np.int32))]})
    cut = build_file_sequences(ids, offsets, [M("h", 6, 16)], index, R, K)
    assert cut.head_length[0, 3] == 2  # the mention runs into the next chunk: only roots 3..4 count


def test_one_triple_per_root_and_rotation_through_the_entity_triples():
    ids, offsets = one_char_tokens(8)
    facts = [Injection(r, np.array([20 + r], dtype=np.int32)) for r in (1, 2, 3)]
    index = TripleIndex({"e": facts, "f": [Injection(9, np.array([99], dtype=np.int32))]})
    mentions = [M("e", 0, 1), M("f", 0, 1), M("e", 2, 3), M("e", 5, 6), M("e", 7, 8)]
    seqs = build_file_sequences(ids, offsets, mentions, index, R, K)
    relations = [int(seqs.leaf_relation[t // 4, t % 4 + 1]) for t in (0, 2, 5, 7)]
    assert relations == [1, 2, 3, 1]  # each mention of e carries the next fact; the 4th wraps around
    assert seqs.num_injected == 4  # f at the same token as e was not injected a second time


def test_entities_without_triples_of_this_split_are_not_injected():
    ids, offsets = one_char_tokens(4)
    seqs = build_file_sequences(ids, offsets, [M("other", 0, 1)], TripleIndex({"e": []}), R, K)
    assert seqs.num_injected == 0 and not seqs.leaf_relation.any() and (seqs.input_ids[:, R:] == 0).all()


"""MaskingCollator: span masking on roots at word starts, whole-tail masking on leaves, 80/10/10, SBO."""

import numpy as np
import pytest
import torch

from graphmer_dist.bench.synthetic import synthetic_arrays
from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.masking import IGNORE, MaskingCollator, VocabFlags
from graphmer_dist.tokens import MASK_ID, PAD_ID, SPECIAL_TOKENS

MODEL = ModelConfig(vocab_size=1000, num_roots=64, leaves_per_root=7)
TRAIN = TrainConfig()


def make(seed: int = 0, num: int = 256):
    rng = np.random.default_rng(seed)
    flags = VocabFlags(begins_with_space=rng.random(MODEL.vocab_size) < 0.4,
                       ends_with_non_identifier=rng.random(MODEL.vocab_size) < 0.2)
    collator = MaskingCollator(MODEL, TRAIN, flags)
    arrays = synthetic_arrays(MODEL, num, rng)
    arrays["input_ids"][:8, 50:MODEL.num_roots] = PAD_ID      # a few short chunks: [SEP] then padding
    arrays["input_ids"][:8, 49] = 2
    arrays["leaf_relation"][:8, 49:] = 0
    return collator, arrays, collator(arrays, np.arange(num, dtype=np.int64))


@pytest.fixture(scope="module")
def masked():
    return make()


def test_batch_keys_shapes_and_dtypes(masked):
    _, arrays, batch = masked
    B, N, R = arrays["input_ids"].shape[0], MODEL.seq_len, MODEL.num_roots
    assert {k: tuple(v.shape) for k, v in batch.items() if k not in ("sbo_index", "sbo_labels")} == {
        "input_ids": (B, N), "labels": (B, N), "attention_mask": (B, N), "leaf_relation": (B, R), "head_length": (B, R)}
    assert batch["sbo_index"].shape[1] == 4 and batch["sbo_index"].shape[0] == batch["sbo_labels"].shape[0] > 0
    assert all(v.dtype == torch.long for k, v in batch.items() if k != "attention_mask")
    assert batch["attention_mask"].dtype == torch.bool
    assert torch.equal(batch["attention_mask"], torch.from_numpy(arrays["input_ids"] != PAD_ID))


def test_about_fifteen_percent_of_real_roots_are_masked_and_never_specials(masked):
    _, arrays, batch = masked
    roots = torch.from_numpy(arrays["input_ids"][:, :MODEL.num_roots]).long()
    masked_roots = batch["labels"][:, :MODEL.num_roots] != IGNORE
    real = roots >= len(SPECIAL_TOKENS)
    assert not torch.any(masked_roots & ~real)
    fraction = masked_roots.sum().item() / real.sum().item()
    assert fraction == pytest.approx(TRAIN.mask_fraction, abs=0.015)
    assert torch.equal(batch["labels"][batch["labels"] != IGNORE],
                       torch.from_numpy(arrays["input_ids"]).long()[batch["labels"] != IGNORE])


def test_spans_start_at_word_starts_with_unmasked_boundaries_and_sbo_rows(masked):
    collator, arrays, batch = masked
    labels, index = batch["labels"], batch["sbo_index"]
    lengths = []
    for b in range(labels.shape[0]):
        word_starts = collator.word_starts(arrays["input_ids"][b, :MODEL.num_roots])
        rows = index[index[:, 0] == b]
        for _, left, right, offset in rows.tolist():
            assert word_starts[left + 1]
            assert labels[b, left] == IGNORE and labels[b, right] == IGNORE     # both boundaries visible
            assert torch.all(labels[b, left + 1: right] != IGNORE)
            assert offset < right - left - 1 <= MODEL.max_span_length
        lengths += [r - l - 1 for _, l, r, o in rows.tolist() if o == 0]
        assert len(rows) == (labels[b, :MODEL.num_roots] != IGNORE).sum()    # one SBO row per masked root
    original = torch.from_numpy(arrays["input_ids"]).long()
    assert torch.equal(batch["sbo_labels"], original[index[:, 0], index[:, 1] + 1 + index[:, 3]])
    assert np.mean(np.asarray(lengths) == 1) > np.mean(np.asarray(lengths) == 4)   # geometric: short spans common


def test_word_start_rule_for_byte_level_bpe():
    V = 10
    begins = np.zeros(V, dtype=bool)
    begins[5] = True                             # token 5 = 'Ġdef'
    ends_non_ident = np.zeros(V, dtype=bool)
    ends_non_ident[6] = True                     # token 6 = '('
    collator = MaskingCollator(MODEL, TRAIN, VocabFlags(begins, ends_non_ident))
    roots = np.array([1, 7, 5, 7, 6, 7, 8, 2, 0])  # [CLS] x Ġdef x ( x y [SEP] [PAD]
    assert collator.word_starts(roots).tolist() == [False, True, True, False, False, True, False, False, False]


def test_leaves_are_masked_whole_with_probability_about_fifteen_percent(masked):
    _, arrays, batch = masked
    R, K = MODEL.num_roots, MODEL.leaves_per_root
    leaf_labels = (batch["labels"][:, R:] != IGNORE).reshape(-1, R, K)
    present = torch.from_numpy(arrays["input_ids"][:, R:] != PAD_ID).reshape(-1, R, K)
    assert not torch.any(leaf_labels & ~present)                        # padding never gets a label
    chosen = leaf_labels.any(dim=-1)
    assert torch.equal(leaf_labels, chosen[:, :, None] & present)       # a chosen tail is masked whole
    has_triple = torch.from_numpy(arrays["leaf_relation"] > 0)
    assert not torch.any(chosen & ~has_triple)
    assert chosen.sum().item() / has_triple.sum().item() == pytest.approx(TRAIN.leaf_mask_prob, abs=0.03)


def test_replacement_is_80_mask_10_random_10_unchanged(masked):
    _, arrays, batch = masked
    where = batch["labels"] != IGNORE
    original = torch.from_numpy(arrays["input_ids"]).long()[where]
    shown = batch["input_ids"][where]
    is_mask = shown == MASK_ID
    unchanged = shown == original
    random = ~is_mask & ~unchanged
    assert where.sum() > 3000
    assert is_mask.float().mean().item() == pytest.approx(0.8, abs=0.025)
    assert unchanged.float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert random.float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert torch.all(shown[random] >= len(SPECIAL_TOKENS))
    assert torch.equal(batch["input_ids"][~where], torch.from_numpy(arrays["input_ids"]).long()[~where])


def test_masks_depend_only_on_each_samples_seed():
    collator, arrays, batch = make(num=6)
    again = collator(arrays, np.arange(6, dtype=np.int64))
    assert all(torch.equal(batch[k], again[k]) for k in batch)
    subset = {k: v[[4, 1]] for k, v in arrays.items()}
    alone = collator(subset, np.array([4, 1], dtype=np.int64))
    assert torch.equal(alone["input_ids"], batch["input_ids"][[4, 1]])
    assert torch.equal(alone["labels"], batch["labels"][[4, 1]])
    other = collator(arrays, np.arange(100, 106, dtype=np.int64))
    assert not torch.equal(other["labels"], batch["labels"])


def test_leaf_corruption_mask_hides_every_chosen_tail_token_behind_mask_and_leaves_roots_80_10_10():
    collator, arrays, bert = make()
    rng = np.random.default_rng(0)
    flags = VocabFlags(begins_with_space=rng.random(MODEL.vocab_size) < 0.4,
                       ends_with_non_identifier=rng.random(MODEL.vocab_size) < 0.2)
    import dataclasses
    only_mask = MaskingCollator(MODEL, dataclasses.replace(TRAIN, leaf_corruption="mask"), flags)
    batch = only_mask(arrays, np.arange(len(arrays["input_ids"]), dtype=np.int64))
    R = MODEL.num_roots
    assert torch.equal(batch["labels"], bert["labels"])                  # the same tokens are chosen
    leaf_where = batch["labels"][:, R:] != IGNORE
    assert leaf_where.sum() > 300
    assert torch.all(batch["input_ids"][:, R:][leaf_where] == MASK_ID)
    assert not torch.all(bert["input_ids"][:, R:][leaf_where] == MASK_ID)  # the paper's rule shows some
    assert torch.equal(batch["input_ids"][:, :R], bert["input_ids"][:, :R])

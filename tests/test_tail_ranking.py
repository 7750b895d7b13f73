"""The tail-ranking loss (train.tail_negatives): negatives from the train tails of the same relation and
length, drawn after the masks, and a loss equal to the softmax over (true tail, negatives) of the scores
link prediction ranks by."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from graphmer_dist.bench.synthetic import synthetic_arrays
from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.config_loader import load_config
from graphmer_dist.data import open_dataset
from graphmer_dist.data.tokenizer import encode_tails, load_tokenizer
from graphmer_dist.errors import ConfigError
from graphmer_dist.masking import IGNORE, MaskingCollator, VocabFlags
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.relations import RELATION_ID
from graphmer_dist.tail_pool import TailPool
from graphmer_dist.tokens import PAD_ID

MODEL = ModelConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=4, ffn_size=64, num_roots=16,
                    leaves_per_root=3, max_span_length=3, dropout=0.0, hgat_dropout=0.0, attention="eager",
                    copy_head=True, copy_span=True)
TRAIN = TrainConfig(leaf_mask_prob=0.5, leaf_corruption="mask", tail_negatives=5)


def test_pool_draws_only_other_tails_of_the_same_relation_and_length():
    pool = TailPool({(3, 2): [(10, 11), (12, 13)], (3, 1): [(10,)], (5, 2): [(20, 21)]}, max_tail=4)
    drawn = pool.sample(3, np.array([10, 11]), 200, np.random.default_rng(0))
    assert drawn.shape == (200, 4)
    other = np.all(drawn == [12, 13, PAD_ID, PAD_ID], axis=1)
    left_out = np.all(drawn == PAD_ID, axis=1)               # a draw of the true tail itself
    assert np.all(other | left_out) and 60 < other.sum() < 140
    # The true tail is the only one of its length, or the relation has none of that length: nothing to draw.
    assert np.all(pool.sample(3, np.array([10]), 10, np.random.default_rng(0)) == PAD_ID)
    assert np.all(pool.sample(7, np.array([10, 11]), 10, np.random.default_rng(0)) == PAD_ID)
    # A tail the pool does not hold (a held-out one) gets any tail of its relation and length.
    assert np.all(pool.sample(5, np.array([1, 2]), 10, np.random.default_rng(0))[:, :2] == [20, 21])


def test_pool_from_a_dataset_holds_distinct_train_tails_only(tiny_dataset, tmp_path):
    """Its own triples.tsv beside the tiny dataset's tokenizer: held-out tails never become negatives."""
    triples = tmp_path / "triples.tsv"
    triples.write_text("".join(f"{h}\t{r}\t{t}\t{split}\t{t}\n" for h, r, t, split in [
        ("m.f", "calls", "parse_args", "train"), ("m.g", "calls", "parse_args", "train"),
        ("m.h", "calls", "open", "train"), ("m.f", "calls", "secret_name", "test"),
        ("m.g", "imports", "secret_module", "val"), ("m.f", "imports", "os", "train")]), encoding="utf-8")
    tokenizer = open_dataset(tiny_dataset).tokenizer_path
    dataset = SimpleNamespace(triples_path=triples, tokenizer_path=tokenizer)
    vocab_size = load_config("tiny").model.vocab_size
    pool = TailPool.from_dataset(dataset, max_tail=16, vocab_size=vocab_size)
    ids = dict(zip(["parse_args", "open", "secret_name", "secret_module", "os"],
                   (tuple(t.tolist()) for t in encode_tails(load_tokenizer(tokenizer),
                                                            ["parse_args", "open", "secret_name", "secret_module", "os"]))))
    pooled = {(relation, tuple(row.tolist())) for (relation, _), block in pool._blocks.items() for row in block}
    assert pooled == {(RELATION_ID["calls"], ids["parse_args"]), (RELATION_ID["calls"], ids["open"]),
                      (RELATION_ID["imports"], ids["os"])}
    assert len(pool) == 3
    # Tails longer than the leaf slots are never injected, so never drawn.
    shorter = TailPool.from_dataset(dataset, max_tail=len(ids["parse_args"]) - 1, vocab_size=vocab_size)
    assert len(shorter) == 2 and (RELATION_ID["calls"], len(ids["parse_args"])) not in shorter._blocks


def arrays_and_pool(seed: int = 0, num: int = 12):
    rng = np.random.default_rng(seed)
    arrays = synthetic_arrays(MODEL, num, rng)
    R, K = MODEL.num_roots, MODEL.leaves_per_root
    tails = {}
    for ids, relation in zip(arrays["input_ids"], arrays["leaf_relation"]):
        for root in np.flatnonzero(relation):
            tail = tuple(int(t) for t in ids[R + K * root: R + K * (root + 1)] if t != PAD_ID)
            tails.setdefault((int(relation[root]), len(tail)), set()).add(tail)
    # Extra tails, so every (relation, length) of the batch has something else to draw.
    for (relation, length), known in list(tails.items()):
        known.update(tuple(int(t) for t in rng.integers(10, MODEL.vocab_size, size=length)) for _ in range(4))
    flags = VocabFlags(begins_with_space=rng.random(MODEL.vocab_size) < 0.4,
                       ends_with_non_identifier=rng.random(MODEL.vocab_size) < 0.2)
    return arrays, TailPool({k: list(v) for k, v in tails.items()}, K), flags


def test_negatives_leave_the_masks_unchanged_and_match_each_masked_tail():
    arrays, pool, flags = arrays_and_pool()
    seeds = np.arange(12, dtype=np.int64)
    plain = MaskingCollator(MODEL, TRAIN, flags)(arrays, seeds)
    batch = MaskingCollator(MODEL, TRAIN, flags, pool)(arrays, seeds)
    assert all(torch.equal(plain[k], batch[k]) for k in plain)
    # Drawn from the per-sample seeds alone, so a resumed run or another batch split draws the same ones.
    again = MaskingCollator(MODEL, TRAIN, flags, pool)
    halves = [again({k: v[part] for k, v in arrays.items()}, seeds[part]) for part in (slice(0, 5), slice(5, 12))]
    assert torch.equal(torch.cat([h["tail_negatives"] for h in halves]), batch["tail_negatives"])
    R, K, C = MODEL.num_roots, MODEL.leaves_per_root, TRAIN.tail_negatives
    masked_tails = {(b, r) for b in range(12) for r in range(R)
                    if arrays["leaf_relation"][b, r] and (batch["labels"][b, R + K * r: R + K * (r + 1)] != IGNORE).any()}
    assert 0 < len(masked_tails) < int((arrays["leaf_relation"] > 0).sum())   # leaf_mask_prob 0.5
    assert {tuple(x) for x in batch["tail_block"].tolist()} == masked_tails
    assert batch["tail_negatives"].shape == (len(masked_tails), C, K)
    for (b, root), negatives in zip(batch["tail_block"].tolist(), batch["tail_negatives"].numpy()):
        tail = tuple(int(t) for t in arrays["input_ids"][b, R + K * root: R + K * (root + 1)] if t != PAD_ID)
        same_kind = pool._blocks[(int(arrays["leaf_relation"][b, root]), len(tail))]
        for row in negatives:
            if row[0] != PAD_ID:
                assert tuple(row[: len(tail)]) != tail and np.all(row[len(tail):] == PAD_ID)
                assert any(np.array_equal(row[: len(tail)], kept) for kept in same_kind)
    # Off unless asked for: without train.tail_negatives the pool is ignored.
    off = MaskingCollator(MODEL, dataclasses.replace(TRAIN, tail_negatives=0), flags, pool)(arrays, seeds)
    assert "tail_block" not in off


@pytest.mark.parametrize("copy_head", [False, True])
def test_tail_loss_is_the_softmax_over_the_candidates_scores_link_prediction_ranks_by(copy_head):
    """Recomputed by hand from `token_logits` (the path link prediction scores through): each candidate's
    summed log-probabilities at its block's slots, cross-entropy with the true tail first; a row of [PAD]
    (a draw of the true tail) is no candidate."""
    model_config = dataclasses.replace(MODEL, copy_head=copy_head, copy_span=copy_head)
    arrays, pool, flags = arrays_and_pool(seed=1)
    batch = MaskingCollator(model_config, TRAIN, flags, pool)(arrays, np.arange(12, dtype=np.int64))
    batch["tail_negatives"][0, 1:] = PAD_ID                   # the first tail has a single negative
    torch.manual_seed(0)
    model = GraphMERForPretraining(model_config, TRAIN).train()
    out = model(**batch)
    plain = {k: v for k, v in batch.items() if not k.startswith("tail_")}
    assert torch.allclose(out["loss"] - model(**plain)["loss"], out["tail_loss"] * TRAIN.tail_loss_weight)

    R, K = MODEL.num_roots, MODEL.leaves_per_root
    hidden, layout = model.encoder.encode(batch["input_ids"], batch["attention_mask"], batch["leaf_relation"],
                                          batch["head_length"])
    losses = []
    for (b, root), negatives in zip(batch["tail_block"].tolist(), batch["tail_negatives"]):
        slots = [R + K * root + j for j in range(K) if batch["labels"][b, R + K * root + j] != IGNORE]
        scores = model.token_logits(hidden, layout, batch["input_ids"], torch.full((len(slots),), b), torch.tensor(slots))
        log_p = torch.log_softmax(scores, dim=-1)             # already log p with the copy head: unchanged
        true = batch["labels"][b, slots]
        candidates = [true] + [row[: len(slots)] for row in negatives if row[0] != PAD_ID]
        totals = torch.stack([log_p[torch.arange(len(slots)), c].sum() for c in candidates])
        losses.append(-torch.log_softmax(totals, dim=0)[0])
    assert len(losses) > 3
    assert torch.allclose(out["tail_loss"], torch.stack(losses).mean(), atol=1e-5)
    out["tail_loss"].backward()
    assert model.mlm_head is not None and model.encoder.token_embedding.weight.grad.abs().max() > 0
    if copy_head:
        assert model.copy_head.query.weight.grad.abs().max() > 0


def test_a_batch_without_masked_tails_adds_nothing():
    arrays, pool, flags = arrays_and_pool(seed=2)
    batch = MaskingCollator(MODEL, dataclasses.replace(TRAIN, leaf_mask_prob=0.0), flags, pool)(arrays, np.arange(12))
    assert batch["tail_block"].shape == (0, 2)
    torch.manual_seed(0)
    out = GraphMERForPretraining(MODEL, TRAIN)(**batch)
    assert float(out["tail_loss"]) == 0.0 and torch.isfinite(out["loss"])


def test_negative_counts_and_weights_are_checked():
    with pytest.raises(ConfigError, match="train.tail_negatives"):
        TrainConfig(tail_negatives=-1)
    with pytest.raises(ConfigError, match="train.tail_loss_weight"):
        TrainConfig(tail_loss_weight=-0.5)


def test_the_training_collator_of_a_dataset_reads_its_tails_only_when_asked(tiny_dataset):
    config = load_config("tiny")
    dataset = open_dataset(tiny_dataset)
    assert MaskingCollator.for_dataset(config.model, config.train, dataset).tail_pool is None
    on = MaskingCollator.for_dataset(config.model, dataclasses.replace(config.train, tail_negatives=3), dataset)
    assert on.tail_pool is not None and len(on.tail_pool) > 0

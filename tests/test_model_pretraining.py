"""GraphMERForPretraining: outputs, loss options, initialisation, and that it can learn (overfit)."""

import dataclasses

import pytest
import torch

from graphmer_dist.bench.synthetic import synthetic_batches
from graphmer_dist.config_loader import load_config
from graphmer_dist.masking import IGNORE
from graphmer_dist.model import GraphMERForPretraining

CONFIG = load_config("tiny")


def tiny_batch(seed: int = 0, batch_size: int = 4):
    return synthetic_batches(CONFIG.model, CONFIG.train, batch_size, 1, seed=seed)[0]


def test_outputs_and_accuracy_counts():
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG.model, CONFIG.train)
    batch = tiny_batch()
    out = model(**batch)
    assert set(out) == {"loss", "mlm_loss", "sbo_loss", "root_correct", "root_count", "leaf_correct", "leaf_count"}
    R = CONFIG.model.num_roots
    assert out["root_count"] == (batch["labels"][:, :R] != IGNORE).sum()
    assert out["leaf_count"] == (batch["labels"][:, R:] != IGNORE).sum() > 0
    assert 0 <= out["root_correct"] <= out["root_count"]
    assert torch.allclose(out["loss"], out["mlm_loss"] + out["sbo_loss"])
    # an untrained model is close to uniform over the vocabulary
    assert abs(out["mlm_loss"].item() - torch.log(torch.tensor(CONFIG.model.vocab_size)).item()) < 0.5
    hidden = model.encoder(batch["input_ids"], batch["attention_mask"], batch["leaf_relation"], batch["head_length"])
    assert hidden.shape == (4, CONFIG.model.seq_len, CONFIG.model.hidden_size)
    assert model.mlm_logits(hidden).shape == (4, CONFIG.model.seq_len, CONFIG.model.vocab_size)


def test_separate_loss_weights_the_leaf_term():
    batch = tiny_batch()
    losses = {}
    for weight in (0.0, 2.0):
        train = dataclasses.replace(CONFIG.train, loss="separate", leaf_loss_weight=weight)
        torch.manual_seed(0)
        model = GraphMERForPretraining(CONFIG.model, train).eval()
        out = model(**batch)
        losses[weight] = out["loss"] - out["sbo_loss"]
    # root and leaf means are both ≈ log V at init, so weight 2 adds about 2 · log V
    assert (losses[2.0] - losses[0.0]).item() > 1.5 * torch.log(torch.tensor(float(CONFIG.model.vocab_size)))


def test_graphmert_initialisation_and_tied_decoder():
    model = GraphMERForPretraining(CONFIG.model, CONFIG.train)
    hgat = model.encoder.hgat
    assert torch.all(hgat.relation_weight[0] == 0) and torch.all(hgat.relation_attention[0] == 0)
    assert abs(hgat.relation_weight[1:].std().item() - CONFIG.model.init_std) < 0.002
    assert abs(model.encoder.layers[0].ffn_in.weight.std().item() - 0.02) < 0.002
    assert torch.all(model.encoder.layers[0].ffn_in.bias == 0)
    assert model.mlm_head.token_embedding.weight is model.encoder.token_embedding.weight
    assert torch.all(model.encoder.decay_p == CONFIG.model.decay_p_init)


def test_nothing_masked_gives_zero_loss_not_nan():
    model = GraphMERForPretraining(CONFIG.model, CONFIG.train)
    batch = tiny_batch()
    batch["labels"] = torch.full_like(batch["labels"], IGNORE)
    batch["sbo_index"] = batch["sbo_index"][:0]
    batch["sbo_labels"] = batch["sbo_labels"][:0]
    out = model(**batch)
    assert out["loss"].item() == 0 and out["root_count"] == 0
    out["loss"].backward()


def test_tiny_model_overfits_one_batch(one_thread):
    """60 AdamW steps on one fixed batch (dropout off): the loss, ≈ 2 · log 512 ≈ 12.5 at start,
    must fall below 1.0 — only possible if embeddings, H-GAT, attention and both heads learn."""
    torch.manual_seed(0)
    model_config = dataclasses.replace(CONFIG.model, dropout=0.0, hgat_dropout=0.0)
    model = GraphMERForPretraining(model_config, CONFIG.train)
    batch = tiny_batch(seed=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        out = model(**batch)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        first = first if first is not None else out["loss"].item()
    assert first > 10
    assert out["loss"].item() < 1.0
    assert out["root_correct"] >= 0.75 * out["root_count"]


def test_every_parameter_gets_a_gradient_even_without_triples():
    """DDP all-reduces a gradient for every parameter on every rank: a batch with no injected triple
    (H-GAT idle) must still produce one, or the ranks' collectives fall out of step."""
    batch = tiny_batch()
    R = CONFIG.model.num_roots
    batch["leaf_relation"].zero_()
    batch["head_length"].zero_()
    batch["input_ids"][:, R:] = 0
    batch["labels"][:, R:] = IGNORE
    batch["attention_mask"][:, R:] = False
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG.model, CONFIG.train)
    model(**batch)["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing}"


def test_training_forward_skips_the_accuracy_counts_but_not_the_loss():
    """optimizer_step passes count_accuracy=False: same loss, no argmax over the vocabulary."""
    batch = tiny_batch()
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG.model, CONFIG.train).eval()
    counted, uncounted = model(**batch), model(**batch, count_accuracy=False)
    assert "root_correct" in counted and not {"root_correct", "root_count", "leaf_correct"} & set(uncounted)
    for key in ("loss", "mlm_loss", "sbo_loss"):
        assert torch.equal(counted[key], uncounted[key])


def test_sbo_weight_zero_reports_the_sbo_loss_but_trains_only_the_rest():
    """With train.sbo_weight 0 the SBO loss is logged but adds nothing: the SBO head's parameters get
    zero gradients (DDP needs one for every parameter) and every other gradient equals the one of
    the loss without SBO."""
    batch = tiny_batch()
    grads = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = GraphMERForPretraining(CONFIG.model, dataclasses.replace(CONFIG.train, sbo_weight=weight)).eval()
        out = model(**batch)
        loss = out["loss"] if weight == 0 else out["loss"] - out["sbo_loss"]
        loss.backward()
        grads[weight] = {name: p.grad.clone() for name, p in model.named_parameters()}
        if weight == 0:
            assert out["sbo_loss"].item() > 1 and not out["sbo_loss"].requires_grad
            assert torch.allclose(out["loss"], out["mlm_loss"])
            assert all(torch.all(g == 0) for name, g in grads[0].items() if name.startswith("sbo_head."))
    for name, g in grads[0].items():
        assert torch.allclose(g, grads[1][name], atol=1e-6), name

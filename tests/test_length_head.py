"""The length head (model.length_head) and the tail score it gives link prediction.

Its one hard requirement: P(L) must not see L. Link prediction asks it under inputs with 1..K [MASK]ed
slots in the head's block; a head that could count them would say "L = the masks I see" every time.
"""

import dataclasses

import numpy as np
import pytest
import torch

from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.eval.facts import Candidates
from graphmer_dist.eval.link_prediction import with_length_prior
from graphmer_dist.eval.ranking import rank
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.tokens import MASK_ID, PAD_ID

CONFIG = ModelConfig(vocab_size=320, hidden_size=32, num_layers=1, num_heads=2, ffn_size=64, num_roots=8,
                     leaves_per_root=4, max_span_length=3, dropout=0.0, hgat_dropout=0.0, attention="eager",
                     length_head=True)
R, K = CONFIG.num_roots, CONFIG.leaves_per_root


def block_input(masks: int, head_tokens=(40, 41), root: int = 2) -> dict[str, torch.Tensor]:
    """One sequence: [CLS] code [SEP]; the head mention at `root` carries a tail of `masks` [MASK]s."""
    ids = torch.full((1, CONFIG.seq_len), PAD_ID)
    ids[0, :R] = torch.tensor([1, 30, *head_tokens, 33, 34, 35, 2])
    ids[0, R + K * root: R + K * root + masks] = MASK_ID
    relation = torch.zeros(1, R, dtype=torch.long)
    relation[0, root] = 8
    head_length = torch.zeros(1, R, dtype=torch.long)
    head_length[0, root] = len(head_tokens)
    return {"input_ids": ids, "leaf_relation": relation, "head_length": head_length}


def test_length_prior_does_not_depend_on_the_masks_it_is_asked_under():
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG, TrainConfig()).eval()
    at = (torch.tensor([0]), torch.tensor([2]))
    priors = [model.tail_length_logp(**block_input(masks), batch=at[0], root=at[1]) for masks in range(1, K + 1)]
    assert priors[0].shape == (1, K)
    assert torch.allclose(priors[0].exp().sum(), torch.tensor(1.0))
    for prior in priors[1:]:
        assert torch.equal(prior, priors[0])
    # ... while it does read the head's name
    other = model.tail_length_logp(**block_input(3, head_tokens=(50, 51)), batch=at[0], root=at[1])
    assert not torch.allclose(other, priors[0])


def test_length_head_learns_the_length_of_the_tails_it_is_shown():
    """Trained on the full model's loss, the head moves P(true length) up; without one, no length loss."""
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG, TrainConfig())
    batch = block_input(3)
    labels = torch.full_like(batch["input_ids"], -100)
    labels[0, R + 2 * K: R + 2 * K + 3] = torch.tensor([60, 61, 62])
    extra = {"attention_mask": batch["input_ids"] != PAD_ID, "labels": labels,
             "sbo_index": torch.zeros(0, 4, dtype=torch.long), "sbo_labels": torch.zeros(0, dtype=torch.long)}
    at = (torch.tensor([0]), torch.tensor([2]))
    before = model.tail_length_logp(**batch, batch=at[0], root=at[1])[0, 2].item()
    optimizer = torch.optim.Adam(model.length_head.parameters(), lr=1e-2)
    for _ in range(20):
        out = model(**batch, **extra)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    assert out["length_loss"].item() > 0
    after = model.tail_length_logp(**batch, batch=at[0], root=at[1])[0, 2].item()
    assert after > before + 1.0                                   # log P(L = 3) rose
    plain = GraphMERForPretraining(dataclasses.replace(CONFIG, length_head=False), TrainConfig())
    assert "length_loss" not in plain(**batch, **extra)
    assert plain.tail_length_logp(**batch, batch=at[0], root=at[1]) is None


def test_batch_without_triples_keeps_the_head_in_the_graph():
    model = GraphMERForPretraining(CONFIG, TrainConfig())
    batch = block_input(0)
    batch["leaf_relation"].zero_()
    loss = model.length_head.loss(model.encoder.token_embedding, **batch)
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is not None and p.grad.abs().max() == 0 for p in model.length_head.parameters())


def test_length_prior_decides_between_lengths_and_candidates_are_normalised_within_one():
    """Two one-token candidates a, b and two two-token ones c, d. Summed token log-probs favour the
    one-token tails (fewer terms); normalised per length and with P(L=2) = 0.9, c leads."""
    candidates = Candidates.build({(10,): 5, (11,): 1, (12, 13): 3, (14, 15): 1})
    scores = np.log(np.array([0.5, 0.3, 0.2 * 0.5, 0.1 * 0.5]))       # order of candidates.tails
    assert [candidates.tails[i] for i in range(4)] == [(10,), (11,), (12, 13), (14, 15)]
    c = candidates.index[(12, 13)]
    assert rank(scores, c) == 3                                         # the plain sum: behind a and b
    length_logp = np.log(np.array([0.1, 0.9, 1e-9, 1e-9]))
    calibrated = with_length_prior(scores, candidates, length_logp)
    assert rank(calibrated, c) == 1
    # Within a length, the order of the summed scores is kept; each block sums to P(L).
    assert calibrated[0] > calibrated[1] and calibrated[2] > calibrated[3]
    assert np.exp(calibrated[:2]).sum() == pytest.approx(0.1)
    assert np.exp(calibrated[2:]).sum() == pytest.approx(0.9)

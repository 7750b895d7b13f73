"""The copy head (model.copy_head): a normalised mixture that can only point at the sequence's own
non-special code tokens, never at the node being predicted or at a leaf."""

import dataclasses

import numpy as np
import pytest
import torch

from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.tokens import CLS_ID, MASK_ID, PAD_ID, SEP_ID

CONFIG = ModelConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=4, ffn_size=64, num_roots=8,
                     leaves_per_root=2, max_span_length=3, dropout=0.0, hgat_dropout=0.0, attention="eager",
                     copy_head=True)


def scores_at(model, ids, relation, positions):
    input_ids = torch.tensor([ids])
    hidden, layout = model.encoder.encode(input_ids, input_ids != PAD_ID, torch.tensor([relation]),
                                          torch.ones(1, CONFIG.num_roots, dtype=torch.long))
    batch = torch.zeros(len(positions), dtype=torch.long)
    return model.token_logits(hidden, layout, input_ids, batch, torch.tensor(positions))


def sequence():
    """Roots [CLS] 10 11 [MASK] 12 10 [SEP] [PAD]; root 1 carries a 2-token tail, masked, and root 4 an
    unmasked tail token 99 (a leaf: never a copy source)."""
    R, K = CONFIG.num_roots, CONFIG.leaves_per_root
    ids = [CLS_ID, 10, 11, MASK_ID, 12, 10, SEP_ID, PAD_ID] + [PAD_ID] * (R * K)
    ids[R + K * 1], ids[R + K * 1 + 1] = MASK_ID, MASK_ID
    ids[R + K * 4] = 99
    relation = [0] * R
    relation[1], relation[4] = 3, 5
    return ids, relation


def test_scores_are_log_probabilities_of_a_normalised_distribution():
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG, TrainConfig()).eval()
    ids, relation = sequence()
    with torch.no_grad():
        logp = scores_at(model, ids, relation, [3, 8 + 2, 8 + 3])
    assert torch.allclose(logp.exp().sum(dim=-1), torch.ones(3), atol=1e-5)


def test_with_the_gate_shut_only_the_sequences_own_code_tokens_get_probability():
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG, TrainConfig()).eval()
    with torch.no_grad():
        model.copy_head.gate.bias.fill_(-60.0)       # g ≈ 0: all mass on copying
    ids, relation = sequence()
    with torch.no_grad():
        leaf = scores_at(model, ids, relation, [8 + 2])[0].exp()      # first slot of root 1's tail
        root = scores_at(model, ids, relation, [1])[0].exp()          # root 1 (token 10) itself
    support = set(torch.nonzero(leaf > 1e-6).flatten().tolist())
    assert support == {10, 11, 12}                  # not [CLS]/[SEP]/[MASK]/[PAD], not the leaf's 99
    assert leaf[10] > leaf[11] and leaf[10] > leaf[12]   # 10 is written twice
    # Root 1 may not point at itself: 10 is still reachable through root 5, with less mass than for the leaf.
    assert root[10] < leaf[10] and root[10] > 1e-6


def test_a_sequence_with_nothing_to_copy_falls_back_to_the_vocabulary():
    torch.manual_seed(0)
    model = GraphMERForPretraining(CONFIG, TrainConfig()).eval()
    plain = GraphMERForPretraining(dataclasses.replace(CONFIG, copy_head=False), TrainConfig()).eval()
    plain.load_state_dict(model.state_dict(), strict=False)
    R = CONFIG.num_roots
    ids = [CLS_ID, MASK_ID, SEP_ID] + [PAD_ID] * (R - 3) + [PAD_ID] * (R * CONFIG.leaves_per_root)
    ids[R + CONFIG.leaves_per_root] = MASK_ID
    relation = [0] * R
    relation[1] = 2
    with torch.no_grad():
        mixed = scores_at(model, ids, relation, [R + CONFIG.leaves_per_root])
        vocab = torch.log_softmax(scores_at(plain, ids, relation, [R + CONFIG.leaves_per_root]), dim=-1)
    assert torch.allclose(mixed, vocab, atol=1e-5)
    assert np.isfinite(mixed.numpy()).all()


def test_span_copy_lets_a_whole_tail_be_copied_from_consecutive_roots():
    """With span copy and the gate shut, a 2-token tail's slots copy the pair (k, k+1) for the start k
    its first slot points at: slot 1 of root 1's block gets 11 wherever slot 0 gets 10 (roots 1, 2) and
    nothing that follows no real token; without it, each slot points alone."""
    torch.manual_seed(0)
    config = dataclasses.replace(CONFIG, copy_span=True)
    model = GraphMERForPretraining(config, TrainConfig()).eval()
    with torch.no_grad():
        model.copy_head.gate.bias.fill_(-60.0)
    ids, relation = sequence()                       # roots [CLS] 10 11 [MASK] 12 10 [SEP] [PAD]
    R, K = CONFIG.num_roots, CONFIG.leaves_per_root
    with torch.no_grad():
        first, second = scores_at(model, ids, relation, [R + K, R + K + 1]).exp()
    # Starts with a real token after them: root 1 (10 → 11) and root 4 (12 → 10); root 2's successor is
    # [MASK] and root 5's is [SEP], so they cannot start a 2-token span.
    assert set(torch.nonzero(second > 1e-6).flatten().tolist()) == {11, 10}
    a_root1, a_root4 = second[11], second[10]
    assert first[10] > 0 and first[11] > 0           # slot 0 points on its own support (roots 1, 2, 4, 5)
    assert torch.allclose(a_root1 + a_root4, torch.tensor(1.0), atol=1e-5)
    with pytest.raises(Exception, match="model.copy_span"):
        dataclasses.replace(CONFIG, copy_head=False, copy_span=True)


@pytest.mark.parametrize("copy_span", [False, True])
def test_training_loss_and_predictions_at_the_targets_equal_the_full_mixtures(copy_span):
    """The training path (target_log_prob) gives the cross-entropy of the full (M, V) mixture, its argmax,
    and the same gradients — on a batch mixing sequences with many, one and no masked nodes, and a target
    only the copy distribution can give (the masked root's own token is written elsewhere in the sequence)."""
    torch.manual_seed(0)
    model = GraphMERForPretraining(dataclasses.replace(CONFIG, copy_span=copy_span), TrainConfig()).train()
    R, K = CONFIG.num_roots, CONFIG.leaves_per_root
    ids, relation = sequence()
    other = [CLS_ID, 20, MASK_ID, 21, SEP_ID] + [PAD_ID] * (R - 5) + [PAD_ID] * (R * K)
    empty = [CLS_ID, 30, 31, SEP_ID] + [PAD_ID] * (R - 4) + [PAD_ID] * (R * K)
    input_ids = torch.tensor([ids, other, empty, ids])
    labels = torch.full_like(input_ids, -100)
    labels[0, [3, R + 2, R + 3]] = torch.tensor([10, 40, 41])
    labels[1, 2] = 20
    labels[3, [3, R + 2]] = torch.tensor([12, 7])
    relations = torch.tensor([relation, [0] * R, [0] * R, relation])
    hidden, layout = model.encoder.encode(input_ids, input_ids != PAD_ID, relations, torch.ones(4, R, dtype=torch.long))
    batch, position = torch.nonzero(labels != -100, as_tuple=True)
    targets = labels[batch, position]

    full = model.token_logits(hidden, layout, input_ids, batch, position)
    expected = torch.nn.functional.cross_entropy(full, targets, reduction="none")
    expected_grads = torch.autograd.grad(expected.sum(), list(model.parameters()), allow_unused=True, retain_graph=True)
    log_p, predicted = model._token_log_prob(hidden, layout, input_ids, batch, position, targets)
    loss = -log_p
    grads = torch.autograd.grad(loss.sum(), list(model.parameters()), allow_unused=True)

    assert torch.allclose(loss, expected, atol=1e-5) and torch.equal(predicted, full.argmax(dim=-1))
    named = dict(zip([n for n, _ in model.named_parameters()], grads))
    assert named["copy_head.query.weight"].abs().max() > 0 and named["copy_head.key.weight"].abs().max() > 0
    for got, want in zip(grads, expected_grads):
        assert (got is None) == (want is None)
        if want is not None:
            assert torch.allclose(got, want, atol=1e-6 + 1e-4 * float(want.abs().max()))

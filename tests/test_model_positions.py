"""Recipe options of the attention: rotary (root, slot) positions and the additive decay mode."""

import math

import torch

from graphmer_dist.config import ModelConfig
from graphmer_dist.model import GraphMER
from graphmer_dist.model.distances import decay_mask, pair_hops
from graphmer_dist.model.positions import RotaryPosition

SMALL = dict(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, ffn_size=64, num_roots=8,
             leaves_per_root=3, max_span_length=3, dropout=0.0, hgat_dropout=0.0, attention="eager")


def test_rotary_scores_depend_on_the_signed_offset_only():
    rotary = RotaryPosition(head_dim=16)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 1, 1, 16, generator=g), torch.randn(1, 1, 1, 16, generator=g)

    def score(root_q: int, root_k: int, slot_q: int = -1, slot_k: int = -1) -> float:
        rq, _ = rotary(q, q, torch.tensor([[root_q]]), torch.tensor([[slot_q]]))
        _, rk = rotary(k, k, torch.tensor([[root_k]]), torch.tensor([[slot_k]]))
        return float((rq * rk).sum())

    assert math.isclose(score(3, 5), score(10, 12), rel_tol=1e-4, abs_tol=1e-5)     # same offset, same score
    assert abs(score(5, 3) - score(3, 5)) > 1e-3                                      # left ≠ right
    assert abs(score(4, 4, slot_q=0, slot_k=2) - score(4, 4, slot_q=2, slot_k=0)) > 1e-3  # tail order too
    assert math.isclose(score(7, 7), float((q * k).sum()), rel_tol=1e-4, abs_tol=1e-5)  # no offset: plain q·k


def test_rotary_model_differs_from_the_paper_model_and_keeps_no_extra_weights():
    torch.manual_seed(0)
    paper = GraphMER(ModelConfig(**SMALL, init_std=0.5))
    torch.manual_seed(0)
    rotary = GraphMER(ModelConfig(**SMALL, init_std=0.5, position="rotary"))
    assert paper.state_dict().keys() == rotary.state_dict().keys()
    ids = torch.randint(5, 300, (2, 32))
    ids[:, 12:] = 0
    args = (ids, ids != 0, torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    assert (paper(*args) - rotary(*args)).abs().max() > 1e-3


def test_additive_decay_scales_attention_weights_by_the_decay_mask():
    """'add': softmax(q·k/√d + log D) = D·exp(q·k/√d) / Σ — at q·k = 0 the weights are D normalised,
    where the paper's product gives uniform weights whatever D is."""
    model = GraphMER(ModelConfig(**SMALL, decay_mode="add", decay_lambda=0.1))
    layout = model.layout(torch.ones(1, 32, dtype=torch.bool))
    factor, bias = model.attention_terms(layout, torch.zeros(1, 1, 1, 32))
    weights = torch.softmax(torch.zeros(1, 2, 32, 32) * factor + bias, dim=-1)
    decay = decay_mask(pair_hops(layout.root, layout.slot), model.decay_p, 0.1)
    assert torch.allclose(weights, decay / decay.sum(-1, keepdim=True), atol=1e-6)
    paper = GraphMER(ModelConfig(**SMALL))
    factor, bias = paper.attention_terms(layout, torch.zeros(1, 1, 1, 32))
    uniform = torch.softmax(torch.zeros(1, 2, 32, 32) * factor + bias, dim=-1)
    assert torch.allclose(uniform, torch.full_like(uniform, 1 / 32))

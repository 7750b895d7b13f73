"""The unpadded path (model.unpad, the default) equals the padded reference.

One batch mixes a typical sequence, one with every leaf slot filled, a fully padded one and a short
one (padded roots). Compared: hidden states at every non-empty node, the loss and its parts, and the
gradient of every parameter. Tolerances (dropout off, same weights):
- fp32: hidden |Δ| ≤ 1e-5, loss relative 1e-5, each gradient |Δ|max ≤ 1e-4 · |grad|max;
- bf16 autocast: the two paths multiply matrices of different shapes, so bf16 rounding lands
  differently: hidden |Δ| ≤ 0.05 (LayerNorm outputs, O(1)), loss relative 1e-2, gradients
  |Δ|max ≤ 0.1 · |grad|max.
"""

import dataclasses

import numpy as np
import pytest
import torch

from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.masking import MaskingCollator, VocabFlags
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.model.distances import hop_distances, pair_hops
from graphmer_dist.model.layout import compact_layout
from graphmer_dist.tokens import CLS_ID, SEP_ID, SPECIAL_TOKENS

CONFIG = ModelConfig(vocab_size=300, hidden_size=32, num_layers=2, num_heads=4, ffn_size=64, num_roots=16,
                     leaves_per_root=3, max_span_length=3, dropout=0.0, hgat_dropout=0.0, attention="eager")
TRAIN = TrainConfig(mask_fraction=0.3, leaf_mask_prob=0.5)
TOLERANCE = {"fp32": (1e-5, 1e-5, 1e-4), "bf16": (0.05, 1e-2, 0.1)}   # hidden abs, loss rel, grad rel-to-max


pytestmark = pytest.mark.usefixtures("one_thread")


def mixed_batch(model: ModelConfig = CONFIG) -> dict[str, torch.Tensor]:
    """Rows: 0 typical (a few tails), 1 every leaf slot filled, 2 fully padded, 3 short (padded roots)."""
    R, K, V = model.num_roots, model.leaves_per_root, model.vocab_size
    rng = np.random.default_rng(0)
    ids = np.zeros((4, model.seq_len), dtype=np.int64)
    relation = np.zeros((4, R), dtype=np.int64)
    head_length = np.zeros((4, R), dtype=np.int64)
    for row, length in ((0, R), (1, R), (3, R // 2)):
        ids[row, 0], ids[row, length - 1] = CLS_ID, SEP_ID
        ids[row, 1: length - 1] = rng.integers(len(SPECIAL_TOKENS), V, size=length - 2)
    for root, tail in ((2, 2), (5, 1), (9, 3)):
        relation[0, root], head_length[0, root] = rng.integers(1, 20), 2
        ids[0, R + K * root: R + K * root + tail] = rng.integers(len(SPECIAL_TOKENS), V, size=tail)
    relation[1, :], head_length[1, :] = rng.integers(1, 20, size=R), 3     # every root carries a full tail
    ids[1, R:] = rng.integers(len(SPECIAL_TOKENS), V, size=R * K)
    relation[3, 2], head_length[3, 2] = 4, 9                               # a head running into padding
    ids[3, R + K * 2: R + K * 2 + 2] = rng.integers(len(SPECIAL_TOKENS), V, size=2)
    flags = VocabFlags(begins_with_space=rng.random(V) < 0.5, ends_with_non_identifier=rng.random(V) < 0.2)
    arrays = {"input_ids": ids, "leaf_relation": relation, "head_length": head_length}
    return MaskingCollator(model, TRAIN, flags)(arrays, np.arange(4, dtype=np.int64))


def model_pair(model: ModelConfig = CONFIG):
    torch.manual_seed(0)
    padded = GraphMERForPretraining(dataclasses.replace(model, unpad=False), TRAIN)
    unpadded = GraphMERForPretraining(dataclasses.replace(model, unpad=True), TRAIN)
    unpadded.load_state_dict(padded.state_dict())
    with torch.no_grad():
        for m in (padded, unpadded):      # distinct heads, so p's gradient is not symmetric
            m.encoder.decay_p.copy_(torch.linspace(0.5, 2.5, model.num_heads))
    return padded, unpadded


def run(model, batch, precision):
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    with autocast:
        out = model(**batch)
        hidden = model.encoder(batch["input_ids"], batch["attention_mask"], batch["leaf_relation"],
                               batch["head_length"])
    out["loss"].backward()
    return out, hidden.float()


def assert_equivalent(padded, unpadded, batch, precision, grad_floor: float = 0.0):
    hidden_tol, loss_tol, grad_tol = TOLERANCE[precision]
    ref_out, ref_hidden = run(padded, batch, precision)
    out, hidden = run(unpadded, batch, precision)
    mask = batch["attention_mask"]
    assert (hidden[mask] - ref_hidden[mask]).abs().max() <= hidden_tol
    assert torch.all(hidden[~mask] == 0)                       # empty nodes are not computed
    for key in ("loss", "mlm_loss", "sbo_loss"):
        assert out[key].item() == pytest.approx(ref_out[key].item(), rel=loss_tol), key
    for key in ("root_count", "leaf_count"):
        assert out[key] == ref_out[key] > 0
    for (name, ref), p in zip(padded.named_parameters(), unpadded.parameters()):
        assert ref.grad is not None and p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert (p.grad - ref.grad).abs().max() <= grad_tol * ref.grad.abs().max() + 1e-12 + grad_floor, name
    assert unpadded.encoder.decay_p.grad.abs().min() > 0


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_unpadded_equals_padded_eager(precision):
    batch = mixed_batch()
    assert batch["attention_mask"][1].all() and not batch["attention_mask"][2].any()
    assert_equivalent(*model_pair(), batch, precision)


@pytest.mark.slow  # compiles the layer once per precision
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_compiled_unpadded_equals_eager_padded(precision, monkeypatch):
    """The padded compiled path equals the padded eager one (test_model_attention.py); here the
    compiled compact layout is held against the eager padded reference."""
    import graphmer_dist.model.compiled as compiled
    monkeypatch.setattr(compiled, "COMPILE_MIN_ELEMENTS", 0)   # compile even these small shapes
    padded, _ = model_pair()
    _, unpadded = model_pair(dataclasses.replace(CONFIG, attention="flex"))
    assert_equivalent(padded, unpadded, mixed_batch(), precision)


def test_compact_layout_keeps_non_empty_nodes_in_order_with_bucketed_length():
    mask = mixed_batch()["attention_mask"]
    N = CONFIG.seq_len
    layout = compact_layout(mask, CONFIG.num_roots, CONFIG.leaves_per_root, bucket=8)
    counts = mask.sum(dim=1)
    assert layout.length % 8 == 0 and layout.length >= counts.max() and layout.length - counts.max() < 8
    for b in range(len(mask)):
        kept = layout.position[b, layout.valid[b]]
        assert torch.equal(kept, torch.nonzero(mask[b]).flatten())      # flat order, nothing else
        assert torch.equal(layout.index(torch.full_like(kept, b), kept), torch.arange(len(kept)))
    empty = torch.nonzero(~mask)
    assert torch.all(layout.index(empty[:, 0], empty[:, 1]) == layout.length)
    full = compact_layout(torch.ones(2, N, dtype=torch.bool), CONFIG.num_roots, CONFIG.leaves_per_root, bucket=40)
    assert full.length == N                                    # never longer than the flat sequence
    none = compact_layout(torch.zeros(2, N, dtype=torch.bool), CONFIG.num_roots, CONFIG.leaves_per_root, bucket=8)
    assert none.length == 8 and not none.valid.any()


def test_compact_hops_from_coordinates_equal_the_flat_graph_distances():
    mask = mixed_batch()["attention_mask"]
    layout = compact_layout(mask, CONFIG.num_roots, CONFIG.leaves_per_root, bucket=8)
    flat = hop_distances(CONFIG.num_roots, CONFIG.leaves_per_root)
    compact = pair_hops(layout.root, layout.slot)                       # (B, L, L)
    for b in range(len(mask)):
        p = layout.position[b]
        assert torch.equal(compact[b], flat[p][:, p])


class RootScale(torch.nn.Module):
    """A stand-in for a directional position signal: shifts q and k by a function of (root, slot)
    (large enough to matter against the near-zero logits of a freshly initialised model)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_shapes = []

    def forward(self, q, k, root, slot):
        self.seen_shapes.append(tuple(root.shape))
        shift = torch.sin(0.3 * root + 1.1 * (slot + 1)).to(q.dtype)[:, None, :, None]
        return q + shift, k + shift


def test_query_key_position_sees_the_same_coordinates_in_both_layouts():
    padded, unpadded = model_pair()
    batch = mixed_batch()
    hooks = []
    for model in (padded, unpadded):
        hooks.append(RootScale())
        model.encoder.set_query_key_position(hooks[-1])
    assert_equivalent(padded, unpadded, batch, "fp32")
    assert hooks[0].seen_shapes[0] == (1, CONFIG.seq_len)            # flat: shared by the batch
    assert hooks[1].seen_shapes[0] == (4, CONFIG.seq_len)           # compact: per sequence (row 1 is full)
    unhooked = model_pair()[1]
    inputs = [batch[k] for k in ("input_ids", "attention_mask", "leaf_relation", "head_length")]
    with torch.no_grad():                                             # and the signal does change the output
        assert (unpadded.encoder(*inputs) - unhooked.encoder(*inputs)).abs().max() > 1e-3   # ≫ the 1e-5 equivalence


RECIPE_OPTIONS = {"position": {"position": "learned"}, "relation_embedding": {"relation_embedding": True},
                  "norm": {"norm": "pre"}, "embedding_norm": {"embedding_norm": True}, "copy_head": {"copy_head": True},
                  "copy_span": {"copy_head": True, "copy_span": True}, "length_head": {"length_head": True}}


@pytest.mark.parametrize("option", sorted(RECIPE_OPTIONS))
def test_recipe_options_keep_unpadded_equal_to_padded_and_change_the_model(option):
    """Every option beyond the paper (docs/recipe.md) reads only node coordinates, relations and input
    ids, so the compact layout computes exactly what the flat one does — and the option does act."""
    config = dataclasses.replace(CONFIG, **RECIPE_OPTIONS[option])
    padded, unpadded = model_pair(config)
    batch = mixed_batch(config)
    # The batch's random labels almost never occur among its roots, so the copy head's q/k gradients are
    # sums of cancelling terms ~1e-9, where fp32 rounding of the two layouts differs by ~1%: those are
    # held to 1e-6 of the model's largest gradient instead of their own.
    floor = 1e-6 if option.startswith("copy_") else 0.0
    assert_equivalent(padded, unpadded, batch, "fp32", grad_floor=floor)
    paper_names = {name for name, _ in model_pair()[1].named_parameters()}
    added = {name: p for name, p in unpadded.named_parameters() if name not in paper_names}
    # The option is in the graph. The copy head's query and key get a gradient only from targets written
    # among the sequence's roots, which this batch's random labels are not (tests/test_copy_head.py has
    # such a batch): the training loss takes −log p(target), whose copy term is then 0 exactly.
    assert added and all(p.grad is not None for p in added.values())
    assert all(p.grad.abs().max() > 0 for name, p in added.items() if not name.startswith(("copy_head.query",
                                                                                            "copy_head.key")))


def test_eager_layers_pad_to_eight_nodes_compiled_ones_to_the_compile_bucket():
    """Eager layers gain nothing from few shapes, so the encoder pads L less for them."""
    from graphmer_dist.model.layout import BUCKET, EAGER_BUCKET
    mask = mixed_batch()["attention_mask"]
    longest = int(mask.sum(dim=1).max())
    for attention, bucket in (("eager", EAGER_BUCKET), ("flex", BUCKET)):
        torch.manual_seed(0)
        encoder = GraphMERForPretraining(dataclasses.replace(CONFIG, attention=attention), TRAIN).encoder
        length = encoder.layout(mask).length
        assert length % bucket == 0 and longest <= length < longest + bucket
    assert EAGER_BUCKET < BUCKET

"""H-GAT, vectorised over all triples of a batch, against a per-triple Python loop."""

import torch
import torch.nn.functional as F

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.hgat import HGAT
from graphmer_dist.model.layout import compact_layout, flat_layout

CONFIG = ModelConfig(vocab_size=300, hidden_size=16, num_heads=2, num_roots=8, leaves_per_root=3,
                     max_span_length=3)


def reference(hgat: HGAT, emb, leaf_relation, head_length, valid):
    """docs/design.md §3 written one triple and one tail token at a time."""
    R, K = CONFIG.num_roots, CONFIG.leaves_per_root
    out = emb.clone()
    for b in range(emb.shape[0]):
        for i in range(R):
            r = int(leaf_relation[b, i])
            if r == 0:
                continue
            W = hgat.relation_weight[r]
            a_t, a_h = hgat.relation_attention[r].chunk(2)
            m = min(max(int(head_length[b, i]), 1), R - i)
            heads = [emb[b, i + j] for j in range(m)]
            for k in range(K):
                pos = R + K * i + k
                if not valid[b, pos]:
                    continue
                t = emb[b, pos]
                e = torch.stack([F.leaky_relu(a_t @ (W @ t) + a_h @ (W @ h), 0.01) for h in heads])
                alpha = torch.softmax(e, dim=0)
                out[b, pos] = t + W @ sum(a * h for a, h in zip(alpha, heads))
    return out


def random_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    B, R, N, d = 3, CONFIG.num_roots, CONFIG.seq_len, CONFIG.hidden_size
    emb = torch.randn(B, N, d, generator=g)
    leaf_relation = torch.randint(0, CONFIG.num_relations, (B, R), generator=g)
    leaf_relation[:, torch.randperm(R, generator=g)[:3]] = 0
    head_length = torch.randint(0, 4, (B, R), generator=g)
    valid = torch.rand(B, N, generator=g) < 0.7
    return emb, leaf_relation, head_length, valid


def layout_inputs(emb, leaf_relation, head_length, valid):
    """The flat layout's arguments; the [PAD] embedding is never read there (no node is left out)."""
    layout = flat_layout(valid, CONFIG.num_roots, CONFIG.leaves_per_root)
    return emb, leaf_relation, head_length, layout, torch.full((CONFIG.hidden_size,), float("nan"))


def test_vectorised_hgat_equals_per_triple_loop():
    torch.manual_seed(0)
    hgat = HGAT(CONFIG).eval()                        # eval: no dropout on W_r / a_r
    with torch.no_grad():
        hgat.relation_weight.normal_(0, 0.3)
        hgat.relation_attention.normal_(0, 0.3)
    for seed in range(3):
        inputs = random_inputs(seed)
        got = hgat(*layout_inputs(*inputs))
        want = reference(hgat, *inputs)
        assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
        assert not torch.equal(got, inputs[0])        # something was fused


def test_batch_without_triples_is_unchanged_and_gradients_reach_relation_tables():
    hgat = HGAT(CONFIG).eval()
    emb, leaf_relation, head_length, valid = random_inputs(1)
    head_length = torch.full_like(head_length, 2)     # a one-token head gives α = 1 and no gradient for a_r
    assert torch.equal(hgat(*layout_inputs(emb, torch.zeros_like(leaf_relation), head_length, valid)), emb)
    with torch.no_grad():
        hgat.relation_weight.normal_(0, 0.3)
        hgat.relation_attention.normal_(0, 0.3)
    hgat(*layout_inputs(emb, leaf_relation, head_length, valid)).square().sum().backward()
    used = leaf_relation.unique()
    used = used[used > 0]
    assert torch.all(hgat.relation_weight.grad[used].abs().sum(dim=(1, 2)) > 0)
    assert torch.all(hgat.relation_attention.grad[used].abs().sum(dim=1) > 0)


def test_compact_layout_fuses_the_same_leaves_and_reads_left_out_heads_as_pad():
    """Same fused embeddings at every non-empty node as the flat layout, where an empty node holds
    the [PAD] embedding — including head roots that are padding (a head running past the text)."""
    torch.manual_seed(0)
    hgat = HGAT(CONFIG).eval()
    with torch.no_grad():
        hgat.relation_weight.normal_(0, 0.3)
        hgat.relation_attention.normal_(0, 0.3)
    emb, leaf_relation, head_length, valid = random_inputs(2)
    valid[:, 5:CONFIG.num_roots] = False              # padded roots: heads at roots 3, 4 run into them
    leaf_relation[:, 3:5] = 7
    head_length[:, 3:5] = 3
    pad = torch.randn(CONFIG.hidden_size)
    emb = torch.where(valid[:, :, None], emb, pad)    # what the embedding of [PAD] gives in the flat layout
    flat = hgat(*layout_inputs(emb, leaf_relation, head_length, valid)[:4], pad)
    layout = compact_layout(valid, CONFIG.num_roots, CONFIG.leaves_per_root, bucket=4)
    compact_emb = torch.where(layout.valid[:, :, None], emb[torch.arange(3)[:, None], layout.position], pad)
    compact = hgat(compact_emb, leaf_relation, head_length, layout, pad)
    assert torch.allclose(layout.to_flat(compact)[valid], flat[valid], atol=1e-6)
    assert not torch.allclose(flat[valid], emb[valid])

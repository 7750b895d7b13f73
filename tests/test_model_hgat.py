"""H-GAT, vectorised over all triples of a batch, against a per-triple Python loop."""

import torch
import torch.nn.functional as F

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.hgat import HGAT

CONFIG = ModelConfig(vocab_size=300, hidden_size=16, num_heads=2, num_roots=8, leaves_per_root=3,
                     max_span_length=3)


def reference(hgat: HGAT, emb, leaf_relation, head_length, valid):
    """DESIGN.md §3 written one triple and one tail token at a time."""
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


def test_vectorised_hgat_equals_per_triple_loop():
    torch.manual_seed(0)
    hgat = HGAT(CONFIG).eval()                        # eval: no dropout on W_r / a_r
    with torch.no_grad():
        hgat.relation_weight.normal_(0, 0.3)
        hgat.relation_attention.normal_(0, 0.3)
    for seed in range(3):
        inputs = random_inputs(seed)
        got = hgat(*inputs)
        want = reference(hgat, *inputs)
        assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
        assert not torch.equal(got, inputs[0])        # something was fused


def test_batch_without_triples_is_unchanged_and_gradients_reach_relation_tables():
    hgat = HGAT(CONFIG).eval()
    emb, leaf_relation, head_length, valid = random_inputs(1)
    head_length = torch.full_like(head_length, 2)     # a one-token head gives α = 1 and no gradient for a_r
    assert torch.equal(hgat(emb, torch.zeros_like(leaf_relation), head_length, valid), emb)
    with torch.no_grad():
        hgat.relation_weight.normal_(0, 0.3)
        hgat.relation_attention.normal_(0, 0.3)
    hgat(emb, leaf_relation, head_length, valid).square().sum().backward()
    used = leaf_relation.unique()
    used = used[used > 0]
    assert torch.all(hgat.relation_weight.grad[used].abs().sum(dim=(1, 2)) > 0)
    assert torch.all(hgat.relation_attention.grad[used].abs().sum(dim=1) > 0)

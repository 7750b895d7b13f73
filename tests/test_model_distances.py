"""Hop distances of the leafy chain graph and the decay mask built from them."""

import math
from collections import deque

import pytest
import torch
import torch.nn.functional as F

from graphmer_dist.model.distances import decay_mask, hop_distances


def bfs_distances(R: int, K: int) -> torch.Tensor:
    """All-pairs BFS on the explicit edge list of docs/design.md §1 (the closed form's ground truth)."""
    N = R * (K + 1)
    edges = [[] for _ in range(N)]

    def link(a: int, b: int) -> None:
        edges[a].append(b)
        edges[b].append(a)

    for i in range(R):
        if i + 1 < R:
            link(i, i + 1)
        for j in range(K):
            link(i, R + K * i + j)
            if j + 1 < K:
                link(R + K * i + j, R + K * i + j + 1)
    out = torch.full((N, N), -1, dtype=torch.long)
    for source in range(N):
        out[source, source] = 0
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for nxt in edges[node]:
                if out[source, nxt] < 0:
                    out[source, nxt] = out[source, node] + 1
                    queue.append(nxt)
    return out


@pytest.mark.parametrize("R,K", [(6, 3), (5, 1), (4, 5)])
def test_closed_form_equals_breadth_first_search(R, K):
    assert torch.equal(hop_distances(R, K), bfs_distances(R, K))


def test_distances_of_named_node_pairs():
    R, K = 8, 3
    hops = hop_distances(R, K)
    leaf = lambda i, j: R + K * i + j  # noqa: E731
    assert hops[2, 5] == 3                      # along the root chain
    assert hops[2, leaf(2, 0)] == 1             # root to its own leaf
    assert hops[leaf(2, 0), leaf(2, 2)] == 2    # same block, through the root beats the leaf chain
    assert hops[leaf(1, 1), leaf(4, 0)] == 5    # leaf → root → 3 roots → root → leaf


@pytest.mark.parametrize("hop", [0, 1, 2, 5])
def test_decay_mask_matches_closed_form(hop):
    R, K, lam = 8, 3, 0.6
    hops = hop_distances(R, K)
    p = torch.tensor([1.0, 0.3, 2.5])
    D = decay_mask(hops, p, lam)
    i, j = torch.nonzero(hops == hop)[0].tolist()
    for h, p_h in enumerate(p.tolist()):
        x = math.sqrt(hop + 1) - p_h
        gelu = 0.5 * x * (1 + math.erf(x / math.sqrt(2)))       # exact GELU
        assert D[h, i, j].item() == pytest.approx(lam ** gelu, rel=1e-6)
    assert D.shape == (3, R * (K + 1), R * (K + 1))


def test_decay_mask_is_one_on_the_diagonal_at_init_and_differentiable_in_p():
    hops = hop_distances(4, 2)
    p = torch.ones(2, requires_grad=True)
    D = decay_mask(hops, p, 0.6, scale=0.5)
    assert torch.allclose(torch.diagonal(D, dim1=1, dim2=2), torch.full((2, 12), 0.5))
    D.sum().backward()
    assert p.grad is not None and torch.all(p.grad != 0)
    assert F.gelu(torch.tensor(0.0)) == 0

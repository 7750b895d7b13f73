"""Hop distances of the leafy chain graph and the attention decay mask built from them (docs/design.md §1, §3).

Distances come from each node's graph coordinates (root ρ, leaf slot j) by the closed form, so the
same code serves the flat layout (coordinates shared by the batch: one (N, N) mask) and the compact
one (per-sequence coordinates: (B, L, L), never an N×N gather). The decay mask is built once per
forward pass and shared by all layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from graphmer_dist.model.layout import node_coordinates


def pair_hops(root: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
    """Shortest-path lengths between all pairs of nodes given by coordinates (..., L) → (..., L, L).

    d(a, b) = |ρ(a) − ρ(b)| + ℓ(a) + ℓ(b) with ℓ = 1 for a leaf (slot ≥ 0), except inside one leaf
    block, where the leaf chain gives 1 for neighbours and the path through the shared root gives 2
    for everything further apart.
    """
    depth = (slot >= 0).long()
    dist = (root[..., :, None] - root[..., None, :]).abs() + depth[..., :, None] + depth[..., None, :]
    same_block = (depth[..., :, None] == 1) & (depth[..., None, :] == 1) & (root[..., :, None] == root[..., None, :])
    in_block = (slot[..., :, None] - slot[..., None, :]).abs().clamp(max=2)
    return torch.where(same_block, in_block, dist)


def hop_distances(num_roots: int, leaves_per_root: int) -> torch.Tensor:
    """All-pairs hop distances (N, N), long, of the flat sequence."""
    return pair_hops(*node_coordinates(num_roots, leaves_per_root))


def decay_mask(hops: torch.Tensor, p: torch.Tensor, decay_lambda: float, scale: float = 1.0) -> torch.Tensor:
    """D[..., h, i, j] = λ ^ GELU(sqrt(hop(i, j) + 1) − p_h), times `scale`: hops (..., L, L) →
    (..., H, L, L) float32.

    A node to itself has hop 0, so sqrt(0 + 1) = 1 and, with p initialised to 1, D = 1 on the
    diagonal. `scale` lets the caller fold 1/sqrt(head_dim) in once instead of once per layer.
    Computed in float32 whatever autocast says: it is small and p's gradient must be exact.
    """
    with torch.autocast(device_type=p.device.type, enabled=False):
        root_hops = torch.sqrt(hops.to(torch.float32) + 1.0)[..., None, :, :]      # (..., 1, L, L)
        exponent = F.gelu(root_hops - p.float()[:, None, None])                   # (..., H, L, L), exact GELU
        return torch.exp(exponent * math.log(decay_lambda)) * scale

"""Hop distances of the leafy chain graph and the attention decay mask built from them (DESIGN.md §1, §3).

The graph is identical for every sequence, so distances are computed once per model (a buffer) and
the decay mask once per forward pass — shared by all layers and all batch elements.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def node_roots_and_depths(num_roots: int, leaves_per_root: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every node: its root ρ, its depth ℓ (0 root, 1 leaf) and its slot j in the leaf block."""
    R, K = num_roots, leaves_per_root
    positions = torch.arange(R * (K + 1))
    is_leaf = positions >= R
    leaf_offset = (positions - R).clamp(min=0)
    root = torch.where(is_leaf, leaf_offset // K, positions)
    slot = torch.where(is_leaf, leaf_offset % K, torch.full_like(positions, -1))
    return root, is_leaf.long(), slot


def hop_distances(num_roots: int, leaves_per_root: int) -> torch.Tensor:
    """All-pairs shortest-path lengths (N, N), long, by the closed form of DESIGN.md §1.

    d(a, b) = |ρ(a) − ρ(b)| + ℓ(a) + ℓ(b), except inside one leaf block, where the leaf chain gives
    1 for neighbours and the path through the shared root gives 2 for everything further apart.
    """
    root, depth, slot = node_roots_and_depths(num_roots, leaves_per_root)
    dist = (root[:, None] - root[None, :]).abs() + depth[:, None] + depth[None, :]
    same_block = (depth[:, None] == 1) & (depth[None, :] == 1) & (root[:, None] == root[None, :])
    in_block = (slot[:, None] - slot[None, :]).abs().clamp(max=2)
    return torch.where(same_block, in_block, dist)


def decay_mask(hops: torch.Tensor, p: torch.Tensor, decay_lambda: float, scale: float = 1.0) -> torch.Tensor:
    """D[h, i, j] = λ ^ GELU(sqrt(hop(i, j) + 1) − p_h), times `scale`; (H, N, N) float32.

    A node to itself has hop 0, so sqrt(0 + 1) = 1 and, with p initialised to 1, D = 1 on the
    diagonal. `scale` lets the caller fold 1/sqrt(head_dim) in once instead of once per layer.
    Computed in float32 whatever autocast says: it is small and p's gradient must be exact.
    """
    with torch.autocast(device_type=p.device.type, enabled=False):
        root_hops = torch.sqrt(hops.to(torch.float32) + 1.0)                        # (N, N)
        exponent = F.gelu(root_hops[None, :, :] - p.float()[:, None, None])         # (H, N, N), exact GELU
        return torch.exp(exponent * math.log(decay_lambda)) * scale

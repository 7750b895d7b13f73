"""Directional position signal (config `model.position`), an option beyond the paper.

The paper has no position embedding: order comes only from the decay mask, which depends on the hop
distance |ρ(i) − ρ(j)| and is therefore symmetric — an encoder cannot tell the token left of a [MASK]
from the one right of it. 'rotary' rotates queries and keys by a node's graph coordinates, so q·k sees
the signed offset between two nodes: half of each head's dimension pairs turn with the root index ρ
(the position on the code-token chain; a leaf takes its root's), a quarter with the leaf slot (0 for a
root, j + 1 for leaf j, so a tail's tokens are ordered too), the last quarter is left as it is (content
only). 'none' is the paper. Pairs of dimensions are (i, i + d_h/2), the GPT-NeoX layout. It plugs into
every layer through `GraphMER.set_query_key_position` (model/attention.py), in the flat and the compact
layout alike, since it reads only each node's (root, slot) coordinates.
"""

from __future__ import annotations

import torch
from torch import nn

ROTARY_BASE = 10000.0


def rotary_frequencies(head_dim: int) -> torch.Tensor:
    """(d_h/2,) angular frequency per dimension pair: root pairs, then slot pairs, then zeros."""
    pairs = head_dim // 2
    root_pairs, slot_pairs = pairs // 2, pairs // 4

    def geometric(n: int) -> torch.Tensor:
        return ROTARY_BASE ** (-torch.arange(n, dtype=torch.float32) / max(n, 1))
    return torch.cat([geometric(root_pairs), geometric(slot_pairs), torch.zeros(pairs - root_pairs - slot_pairs)])


def rotary_angles(root: torch.Tensor, slot: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """root, slot (..., L) long → (..., L, d_h/2) float32 angles (slot −1 = a root turns by 0)."""
    is_slot_pair = torch.zeros_like(frequencies, dtype=torch.bool)
    pairs = len(frequencies)
    is_slot_pair[pairs // 2: pairs // 2 + pairs // 4] = True
    coordinate = torch.where(is_slot_pair, (slot + 1).float()[..., None], root.float()[..., None])
    return coordinate * frequencies


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """x (B, H, L, d_h) rotated pairwise by angles (B|1, L, d_h/2)."""
    cos, sin = angles.cos()[:, None].to(x.dtype), angles.sin()[:, None].to(x.dtype)
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class RotaryPosition(nn.Module):
    """`module(q, k, root, slot) -> (q, k)`: the query/key position hook of model/attention.py."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.register_buffer("frequencies", rotary_frequencies(head_dim), persistent=False)

    def forward(self, q: torch.Tensor, k: torch.Tensor, root: torch.Tensor,
                slot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angles = rotary_angles(root, slot, self.frequencies)
        return apply_rotary(q, angles), apply_rotary(k, angles)

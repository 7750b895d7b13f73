"""Which nodes of the leafy chain the encoder computes, and where each one sits in the graph.

A batch arrives flat, (B, N) with N = R·(K+1), but only ~15% of the positions hold a token: the
roots and the few leaf slots an injected tail filled. Padding never influences a real node (padded
keys are masked, every other op is per position), so the unpadded path (model.unpad, the default)
gathers each sequence's non-empty nodes into (B, L) and computes only those; L is the batch's longest
count rounded up to a multiple of BUCKET when the layers are compiled, so they see few distinct shapes,
and of EAGER_BUCKET when they run eagerly (no shape to reuse, and every padded node costs time).

Every node keeps its graph coordinates — root index ρ and leaf slot j (−1 for a root) — so the decay
mask (and any position signal) is computed from them directly, in either layout.

Mapping flat positions (labels, SBO boundaries, H-GAT heads and tails, eval query slots) into the
layout: `layout.index(batch, positions)`, or `layout.gather(hidden, batch, positions)` for the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

BUCKET = 32
"""L is rounded up to a multiple of this (capped at N) for compiled layers: a new L means a recompile."""

EAGER_BUCKET = 8
"""The same for eager layers: cpu-1h's batches average L 152 at BUCKET and 140 at 8 (1,024 train
sequences), ~7% less time per step measured."""


def padded_length(longest: int, seq_len: int, bucket: int) -> int:
    """L of a batch whose longest sequence holds `longest` non-empty nodes: rounded up to `bucket`, at
    least one bucket, at most N (`seq_len`)."""
    return min(seq_len, max(bucket, -(-longest // bucket) * bucket))


def node_coordinates(num_roots: int, leaves_per_root: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) root index ρ and leaf slot j (−1 for a root) of every flat position; leaf j of root i is R+K·i+j."""
    R, K = num_roots, leaves_per_root
    positions = torch.arange(R * (K + 1), device=device)
    leaf_offset = (positions - R).clamp(min=0)
    is_leaf = positions >= R
    root = torch.where(is_leaf, leaf_offset // K, positions)
    slot = torch.where(is_leaf, leaf_offset % K, torch.full_like(positions, -1))
    return root, slot


@dataclass
class NodeLayout:
    """The nodes computed for a batch: L of them per sequence, padded or compact.

    position (B|1, L) flat index of each computed node; valid (B, L) it holds a token;
    root, slot (B|1, L) its graph coordinates; flat_to_index (B, N) its index in L for each flat
    position, L where the node is not computed — None when the layout is the flat one itself.
    """

    position: torch.Tensor
    valid: torch.Tensor
    root: torch.Tensor
    slot: torch.Tensor
    flat_to_index: torch.Tensor | None
    seq_len: int

    @property
    def length(self) -> int:
        return self.valid.shape[1]

    @property
    def is_compact(self) -> bool:
        return self.flat_to_index is not None

    def index(self, batch: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Index in L of flat `positions` of sequences `batch` (same shapes); L where not computed
        (an empty slot in the compact layout)."""
        if self.flat_to_index is None:
            return positions
        return self.flat_to_index[batch, positions]

    def gather(self, hidden: torch.Tensor, batch: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Rows of hidden (B, L, d) at flat `positions` of sequences `batch` → (*positions.shape, d);
        zeros for a node that was not computed (empty in the compact layout)."""
        index = self.index(batch, positions)
        rows = hidden[batch, index.clamp(max=self.length - 1)]
        if self.flat_to_index is None:
            return rows
        return rows * (index < self.length)[..., None].to(rows.dtype)

    def take(self, flat: torch.Tensor) -> torch.Tensor:
        """Per-node values (B, L) of a flat (B, N) tensor, e.g. the input ids; 0 at nodes left empty."""
        if self.flat_to_index is None:
            return flat
        return torch.where(self.valid, flat.gather(1, self.position), 0)

    def to_flat(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, L, d) → (B, N, d): computed nodes at their flat positions, zeros elsewhere."""
        if self.flat_to_index is None:
            return hidden
        B, _, d = hidden.shape
        flat = hidden.new_zeros(B, self.seq_len + 1, d)          # column N takes the padding slots
        target = torch.where(self.valid, self.position, self.seq_len)
        flat = flat.scatter(1, target[:, :, None].expand(-1, -1, d), hidden)
        return flat[:, : self.seq_len]


def flat_layout(attention_mask: torch.Tensor, num_roots: int, leaves_per_root: int) -> NodeLayout:
    """Every position of the flat sequence (the padded reference path)."""
    root, slot = node_coordinates(num_roots, leaves_per_root, attention_mask.device)
    position = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return NodeLayout(position[None], attention_mask, root[None], slot[None], None, attention_mask.shape[1])


def compact_layout(attention_mask: torch.Tensor, num_roots: int, leaves_per_root: int,
                   bucket: int = BUCKET) -> NodeLayout:
    """The non-empty nodes of each sequence, in flat order, padded to L = the longest count rounded
    up to `bucket` (at least one bucket, at most N). Reads the counts on the host (one sync)."""
    B, N = attention_mask.shape
    counts = attention_mask.sum(dim=1)
    longest = int(counts.max()) if B else 0
    L = padded_length(longest, N, bucket)
    rank = attention_mask.cumsum(dim=1) - 1                                   # index among the non-empty
    flat_to_index = torch.where(attention_mask, rank, L)                      # (B, N)
    slots = torch.arange(L, device=attention_mask.device)
    valid = slots[None, :] < counts[:, None]                                  # (B, L)
    flat = torch.arange(N, device=attention_mask.device).expand(B, N)
    position = torch.zeros(B, L + 1, dtype=torch.long, device=attention_mask.device)
    position = position.scatter(1, flat_to_index, flat)[:, :L]                # column L collects empties
    position = torch.where(valid, position, 0)
    root, slot = node_coordinates(num_roots, leaves_per_root, attention_mask.device)
    return NodeLayout(position, valid, root[position], slot[position], flat_to_index, N)

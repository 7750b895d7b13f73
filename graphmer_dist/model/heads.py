"""Prediction heads: the tied MLM/MNM head and the span boundary objective (SBO) head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig


class MaskedTokenHead(nn.Module):
    """dense → GELU → LN → decoder tied to the token embedding (with its own bias). Used for roots
    (MLM) and leaves (MNM) alike; callers gather the masked positions first, since the d×V decoder
    is the most expensive matmul of the model and only ~15% of positions carry a label."""

    def __init__(self, model: ModelConfig, token_embedding: nn.Embedding) -> None:
        super().__init__()
        self.dense = nn.Linear(model.hidden_size, model.hidden_size)
        self.norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        self.token_embedding = token_embedding                                   # tied, not a copy
        self.bias = nn.Parameter(torch.zeros(model.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = self.norm(F.gelu(self.dense(hidden)))
        return F.linear(h, self.token_embedding.weight, self.bias)


class SpanBoundaryHead(nn.Module):
    """[y_{s−1}; y_{e+1}; P_k] → Linear(3d→d), GELU, LN, Linear(d→d), GELU, LN, Linear(d→V) (untied)."""

    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        d = model.hidden_size
        self.position = nn.Embedding(model.max_span_length, d)
        self.net = nn.Sequential(
            nn.Linear(3 * d, d), nn.GELU(), nn.LayerNorm(d, eps=model.layer_norm_eps),
            nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d, eps=model.layer_norm_eps),
            nn.Linear(d, model.vocab_size),
        )

    def forward(self, hidden: torch.Tensor, sbo_index: torch.Tensor) -> torch.Tensor:
        """hidden (B, N, d); sbo_index (M, 4) rows (batch, left, right, offset) → logits (M, V)."""
        batch, left, right, offset = sbo_index.unbind(dim=1)
        left_h, right_h = hidden[batch, left], hidden[batch, right]
        position = self.position(offset).to(left_h.dtype)
        return self.net(torch.cat([left_h, right_h, position], dim=-1))

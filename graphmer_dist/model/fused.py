"""The fast attention kernel (model.attention = 'flex', the default). Placeholder: same as eager."""

from __future__ import annotations

import torch


def fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaled_decay: torch.Tensor,
                    key_bias: torch.Tensor) -> torch.Tensor:
    scores = torch.matmul(q, k.transpose(-1, -2))
    probs = torch.softmax((scores * scaled_decay + key_bias).float(), dim=-1).to(v.dtype)
    return torch.matmul(probs, v)

"""Multi-head self-attention whose scaled logits are multiplied by the decay mask (docs/design.md §3).

logits = (q·k / sqrt(d_h)) · D[h], padded keys → −inf, softmax. D is not additive, so plain SDPA
cannot express it. This is the reference maths; the fast path (config 'flex') compiles whole
encoder layers around it (see `compiled.py`). The caller passes D already multiplied by
1/sqrt(d_h) (once per forward, shared by all layers): (H, N, N) in the flat layout, (B, H, L, L)
in the compact one (model/layout.py).

A position signal on queries and keys (e.g. rotary over the root index) plugs in with
`GraphMER.set_query_key_position(module)`: every layer then calls `module(q, k, root, slot)` →
(q, k) before the logits, with q, k (B, H, L, d_h) and each node's root index and leaf slot
(−1 for a root) as (B or 1, L) long tensors, the same in the flat and the compact layout.
"""

from __future__ import annotations

import torch
from torch import nn

from graphmer_dist.config import ModelConfig


def eager_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaled_decay: torch.Tensor,
                    key_bias: torch.Tensor) -> torch.Tensor:
    """q, k, v (B, H, N, dh); scaled_decay (H, N, N) or (B, H, N, N); key_bias (B, 1, 1, N) of 0 / −inf
    → (B, H, N, dh).

    Rows whose keys are all padding must not reach here with −inf everywhere (see `key_bias_for`).
    """
    scores = torch.matmul(q, k.transpose(-1, -2))                  # (B, H, N, N)
    logits = scores * scaled_decay + key_bias
    probs = torch.softmax(logits.float(), dim=-1).to(v.dtype)
    return torch.matmul(probs, v)


def key_bias_for(attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Additive key bias (B, 1, 1, N) and the (B,) mask of sequences that have any real token.

    A fully padded sequence gets bias 0 everywhere (so softmax never sees a row of −inf, whose
    gradient is NaN even where the output is discarded) and its output is zeroed afterwards.
    """
    has_tokens = attention_mask.any(dim=-1)                                        # (B,)
    keep = attention_mask | ~has_tokens[:, None]
    bias = torch.zeros(keep.shape, dtype=torch.float32, device=keep.device)
    bias = bias.masked_fill(~keep, float("-inf"))
    return bias[:, None, None, :], has_tokens


class DecayAttention(nn.Module):
    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        self.num_heads, self.head_dim = model.num_heads, model.head_dim
        self.qkv = nn.Linear(model.hidden_size, 3 * model.hidden_size)
        self.out = nn.Linear(model.hidden_size, model.hidden_size)
        self.query_key_position: nn.Module | None = None       # see the module docstring

    def forward(self, x: torch.Tensor, scaled_decay: torch.Tensor, key_bias: torch.Tensor,
                root: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        B, N, d = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        if self.query_key_position is not None:
            q, k = self.query_key_position(q, k, root, slot)
        context = eager_attention(q, k, qkv[2], scaled_decay, key_bias)                  # (B, H, N, dh)
        return self.out(context.transpose(1, 2).reshape(B, N, d))

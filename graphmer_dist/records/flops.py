"""Training FLOPs per token for GraphMER-SE, the numerator of MFU.

Counted as matmul FLOPs only (2 per multiply-add), forward ×3 for forward + backward, the convention
of the PaLM/Megatron MFU definition. Per token of the flat N-node sequence:
- encoder layer: Q/K/V/O projections 4·d², FFN 2·d·f, attention scores and weighted sum 2·N·d;
- the output transform W₀ (d²) and the MLM head (dense d² + tied decoder d·V) on every position;
- H-GAT and SBO are small (per-leaf d² on injected leaves only / per masked span) and are left out,
  so the MFU is a slight underestimate rather than an overestimate.
"""

from __future__ import annotations

from graphmer_dist.config import ModelConfig


def forward_flops_per_token(model: ModelConfig) -> float:
    d, f, n, v = model.hidden_size, model.ffn_size, model.seq_len, model.vocab_size
    per_layer = 4 * d * d + 2 * d * f + 2 * n * d
    heads = d * d + d * d + d * v
    return 2.0 * (model.num_layers * per_layer + heads)


def training_flops_per_token(model: ModelConfig) -> float:
    """Forward + backward (backward ≈ 2× forward)."""
    return 3.0 * forward_flops_per_token(model)

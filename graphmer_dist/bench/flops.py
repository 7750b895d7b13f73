"""Model FLOPs per token, counted from the config: the numerator of MFU.

Convention (PaLM / Megatron): matmul FLOPs only, 2 FLOPs per multiply-add, and backward = 2 × forward,
so training FLOPs = 6 × (multiply-adds per token in the forward pass). Counted per position of the
flat N-node sequence (padding included, as tokens/s is), and only for matmuls that actually run:
- each encoder layer: Q/K/V/O projections 4·d², FFN 2·d·f, and attention, q·kᵀ and p·v, N·d each
  (hence 2·N·d);
- the final transform W₀: d²;
- heads run only at masked root positions, a fraction mask_fraction·R/N of all positions (the model
  gathers them before the decoder): MLM dense d² + tied decoder d·V, and SBO 3d² + d² + d·V.
Left out as small: H-GAT (per injected triple), masked-leaf head rows, LayerNorm/GELU/softmax
(not matmuls). The count is therefore a slight underestimate, and so is MFU.
"""

from __future__ import annotations

from graphmer_dist.config import ModelConfig, TrainConfig


def forward_macs_per_token(model: ModelConfig, train: TrainConfig) -> float:
    d, f, n, v = model.hidden_size, model.ffn_size, model.seq_len, model.vocab_size
    per_layer = 4 * d * d + 2 * d * f + 2 * n * d
    predicted_fraction = train.mask_fraction * model.num_roots / n
    heads = predicted_fraction * ((d * d + d * v) + (3 * d * d + d * d + d * v))
    return model.num_layers * per_layer + d * d + heads


def training_flops_per_token(model: ModelConfig, train: TrainConfig) -> float:
    """6 × forward multiply-adds: 2 FLOPs each, forward + backward (≈ 2× forward)."""
    return 6.0 * forward_macs_per_token(model, train)

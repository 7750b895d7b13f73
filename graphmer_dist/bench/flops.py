"""Training FLOPs: the numerator of MFU.

Convention (PaLM / Megatron): matmul FLOPs only, 2 FLOPs per multiply-add, and backward = 2 × forward,
so training FLOPs = 6 × (multiply-adds in the forward pass). Counted for the work the model NEEDS,
i.e. what the unpadded model computes on the non-empty nodes of a batch (not its bucket padding, and
not the empty leaf slots the padded reference also computes):
- each encoder layer: per node Q/K/V/O projections 4·d², FFN 2·d·f; attention q·kᵀ and p·v over the
  n² pairs of a sequence's n non-empty nodes, d each (hence 2·n²·d);
- the final transform W₀: d² per node;
- heads only where they run: MLM dense d² + tied decoder d·V per labelled position, and SBO
  3d² + d² + d·V per SBO row.
Left out as small: H-GAT (per injected triple), LayerNorm/GELU/softmax (not matmuls). MFU is
therefore a slight underestimate.
"""

from __future__ import annotations

import torch

from graphmer_dist.config import ModelConfig, TrainConfig

IGNORE = -100


def encoder_macs(model: ModelConfig, nodes: torch.Tensor | float) -> torch.Tensor | float:
    """Forward multiply-adds of the encoder for sequences of `nodes` non-empty nodes each (elementwise)."""
    d, f = model.hidden_size, model.ffn_size
    per_layer = nodes * (4 * d * d + 2 * d * f) + 2 * nodes * nodes * d
    return model.num_layers * per_layer + nodes * d * d


def head_macs(model: ModelConfig, labelled: float, sbo_rows: float) -> float:
    d, v = model.hidden_size, model.vocab_size
    return labelled * (d * d + d * v) + sbo_rows * (3 * d * d + d * d + d * v)


def batch_training_flops(model: ModelConfig, batch: dict[str, torch.Tensor]) -> float:
    """Training FLOPs the unpadded model needs for one masked batch (docs/interfaces.md batch keys)."""
    nodes = batch["attention_mask"].sum(dim=1).double()
    labelled = float((batch["labels"] != IGNORE).sum())
    macs = float(encoder_macs(model, nodes).sum()) + head_macs(model, labelled, float(len(batch["sbo_labels"])))
    return 6.0 * macs


def training_flops_per_token(model: ModelConfig, train: TrainConfig, nonpad_fraction: float = 1.0) -> float:
    """Estimated training FLOPs per flat position from the config alone, for sequences whose
    non-empty fraction is `nonpad_fraction` (1.0 = every position counted, the padded convention);
    masked roots (mask_fraction of R) are the labelled positions and each has one SBO row."""
    n = model.seq_len
    nodes = nonpad_fraction * n
    labelled = train.mask_fraction * model.num_roots
    return 6.0 * (encoder_macs(model, nodes) + head_macs(model, labelled, labelled)) / n

"""The fast path (model.attention = 'flex', the default): each encoder layer compiled whole.

The decay multiplies the scaled logits, so SDPA cannot express it, and FlexAttention — the natural
fit, via `score_mod` — has no CPU backward in torch 2.13 ("FlexAttention does not support backward
on CPU"), so it cannot train here. What costs time on a CPU is not the attention matmuls but the
elementwise passes over (B, H, N, N) and (B, N, d) tensors around them: bf16↔fp32 casts, ×D, +mask,
softmax, dropout, residual, LayerNorm, GELU, each a separate pass over memory in eager PyTorch, and
again in backward. Inductor fuses them into a few loops (the softmax and the reduction for D's
gradient into one) and leaves the matmuls to oneDNN. Measured on this 2-core CPU, cpu-small,
bf16, one thread, s/step: eager 3.98, attention core compiled 2.30, whole layer compiled 1.86
(benchmarks/compare_attention.py). All layers have the same shapes, so one compiled graph serves all.

Compiling costs ~10–50 s once per process (inductor caches on disk across processes), which does
not pay for small shapes: below COMPILE_MIN_ELEMENTS score elements the same code runs eagerly.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from graphmer_dist.model.zero3 import zero3_partitioned

# B·H·N·N per layer call. The tiny config (4·2·64² = 32K) runs eagerly in milliseconds; cpu-small
# (8·4·512² ≈ 8.4M) and larger compile.
COMPILE_MIN_ELEMENTS = 1 << 20

_compiled: Callable | None = None


def _layer_forward(layer: nn.Module, x: torch.Tensor, scaled_decay: torch.Tensor,
                   key_bias: torch.Tensor, root: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
    return layer(x, scaled_decay, key_bias, root, slot)


def compiled_layer_forward() -> Callable:
    """Compiled lazily, on first use, so importing or building the model never starts the compiler."""
    global _compiled
    if _compiled is None:
        _compiled = torch.compile(_layer_forward, dynamic=False)
    return _compiled


def worth_compiling(x: torch.Tensor, num_heads: int, layer: nn.Module) -> bool:
    """Large enough to pay, and not under DeepSpeed ZeRO-3, whose parameters are gathered by module
    hooks (collectives) at call time: tracing those into a compiled graph is not supported, so ZeRO-3
    layers run eagerly (model/zero3.py)."""
    batch, n, _ = x.shape
    return batch * num_heads * n * n >= COMPILE_MIN_ELEMENTS and not zero3_partitioned(layer)

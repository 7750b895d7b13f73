"""The fast attention kernel (model.attention = 'flex', the default): the same maths as the eager
reference, with the elementwise part between the two matmuls compiled into fused loops.

Why not FlexAttention: in torch 2.13 its CPU path has no backward ("FlexAttention does not support
backward on CPU"), so it cannot train here. Why this split: on a 2-core CPU the two attention
matmuls are cheap next to the (B, H, N, N) elementwise passes around them — bf16→fp32 cast, ×D,
+mask, softmax, cast back, and the same again in backward, plus a broadcast reduction for dD. Eager
PyTorch runs each as its own pass over memory; inductor fuses forward into one softmax loop and
backward into one loop that also reduces the gradient of D. Measured at cpu-small shapes
(B=8, H=4, N=512, bf16, fwd+bwd of one attention): eager 256 ms, this 53 ms (benchmarks/).
The matmuls stay in eager so oneDNN's bf16 kernels do them.
"""

from __future__ import annotations

import torch

# Below this many score elements per call (B·H·N·N) compiling does not pay: the tiny config's
# N = 64 runs the same maths eagerly in well under a millisecond, while compiling costs ~10 s per
# process. cpu-small (8·4·512·512 ≈ 8.4M) and larger compile.
COMPILE_MIN_ELEMENTS = 1 << 20

_compiled = None


def decay_softmax(scores: torch.Tensor, scaled_decay: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
    """softmax(scores · D + bias) in float32, returned in the scores' dtype (the PV matmul's input)."""
    probs = torch.softmax(scores.float() * scaled_decay + key_bias, dim=-1)
    return probs.to(scores.dtype)


def compiled_decay_softmax():
    """Compiled lazily, on first use, so importing the model never starts the compiler."""
    global _compiled
    if _compiled is None:
        _compiled = torch.compile(decay_softmax, dynamic=False)
    return _compiled


def fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaled_decay: torch.Tensor,
                    key_bias: torch.Tensor) -> torch.Tensor:
    """Same contract as `attention.eager_attention`."""
    scores = torch.matmul(q, k.transpose(-1, -2))                          # (B, H, N, N)
    softmax = compiled_decay_softmax() if scores.numel() >= COMPILE_MIN_ELEMENTS else decay_softmax
    return torch.matmul(softmax(scores, scaled_decay, key_bias), v)

"""The device's dense matmul peak, measured in the same run and at the precision being benchmarked.

On a CPU there is no datasheet number that means anything for a given container, so MFU is taken
against what this process reaches on a large square matmul with the same threads and dtype.
"""

from __future__ import annotations

import time

import torch

DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_flops(device: torch.device, precision: str, size: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of `repeats` (size × size) @ (size × size) matmuls in `precision`'s dtype."""
    dtype = DTYPES[precision]
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    torch.matmul(a, b)                                    # first call picks kernels and allocates
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best

"""Peak dense FLOP/s per device and precision, the denominator of MFU.

Numbers are per device, dense (no 2:4 sparsity), in FLOP/s, from the vendors' datasheets: NVIDIA
Tesla T4 / P100 (PCIe 16 GB) / V100 (SXM2) / A10 / A10G (AWS G5 figures) / L4 / A100 (SXM4) / H100 (SXM5)
datasheets, and the GeForce RTX 3070 Ampere whitepaper (tensor-core FP16 with FP32 accumulate). fp16
and bf16 are tensor-core figures; fp32 is the plain FP32 (non-TF32) rate, because PyTorch keeps TF32
off for matmuls by default. Devices without bf16 hardware (T4, P100, V100) have no bf16 entry: a bf16
run there is emulated and its MFU would be meaningless. CPUs have no table: the run measures its own
matmul peak (`cpu_peak_flops`, via graphmer_dist/bench/peak.py) and the record says so.
"""

from __future__ import annotations

TFLOP = 1e12

PEAK_FLOPS: dict[str, dict[str, float]] = {
    "T4": {"fp32": 8.1 * TFLOP, "fp16": 65.0 * TFLOP},
    "P100": {"fp32": 9.3 * TFLOP, "fp16": 18.7 * TFLOP},  # no tensor cores: packed fp16 rate
    "V100": {"fp32": 15.7 * TFLOP, "fp16": 125.0 * TFLOP},
    "A10": {"fp32": 31.2 * TFLOP, "fp16": 125.0 * TFLOP, "bf16": 125.0 * TFLOP},
    "A10G": {"fp32": 31.2 * TFLOP, "fp16": 70.0 * TFLOP, "bf16": 70.0 * TFLOP},
    "L4": {"fp32": 30.3 * TFLOP, "fp16": 121.0 * TFLOP, "bf16": 121.0 * TFLOP},
    "RTX 3070": {"fp32": 20.3 * TFLOP, "fp16": 40.6 * TFLOP, "bf16": 40.6 * TFLOP},
    "A100": {"fp32": 19.5 * TFLOP, "fp16": 312.0 * TFLOP, "bf16": 312.0 * TFLOP},
    "H100": {"fp32": 67.0 * TFLOP, "fp16": 989.0 * TFLOP, "bf16": 989.0 * TFLOP},
}

# Longest names first so "A10G" is not read as "A10" and "A100" not as "A10".
_MATCH_ORDER = sorted(PEAK_FLOPS, key=len, reverse=True)


def canonical_device(device_name: str) -> str | None:
    """'Tesla T4' → 'T4', 'NVIDIA A100-SXM4-40GB' → 'A100', 'NVIDIA GeForce RTX 3070' → 'RTX 3070'."""
    upper = device_name.upper().replace("-", " ").replace("_", " ")
    words = upper.split()
    for name in _MATCH_ORDER:
        parts = name.split()
        for i in range(len(words) - len(parts) + 1):
            if words[i:i + len(parts)] == parts:
                return name
    return None


def table_peak_flops(device_name: str, precision: str) -> float | None:
    """The datasheet peak for a known GPU at this precision, or None when the table has no entry."""
    name = canonical_device(device_name)
    if name is None:
        return None
    return PEAK_FLOPS[name].get(precision)


def cpu_peak_flops(precision: str = "fp32") -> float:
    """This process's dense matmul peak at `precision` (the model helper's measurement, shared with
    `graphmer-launch bench` so both report MFU against the same number)."""
    import torch

    from graphmer_dist.bench.peak import matmul_peak_flops

    return matmul_peak_flops(torch.device("cpu"), precision)


def resolve_peak(device_name: str, precision: str, device_type: str) -> tuple[float | None, str]:
    """(peak FLOP/s per device, where it came from) for MFU; (None, reason) when unknown."""
    if device_type == "cpu":
        return cpu_peak_flops(precision), f"measured:cpu/{precision}"
    peak = table_peak_flops(device_name, precision)
    if peak is None:
        return None, f"unknown:{device_name}/{precision}"
    return peak, f"table:{canonical_device(device_name)}/{precision}"

"""THE MFU denominator, shared by `graphmer-launch bench` and the benchmark records.

On a GPU: the datasheet dense peak of the one GPU table (graphmer_dist/hardware.py, sources there) at
the run's precision; a GPU not in the table, or a precision it does not compute natively (bf16 on a
T4), has no peak and so no MFU. On a CPU there is no datasheet number that means anything for a given
container, so the peak is measured: the best dense matmul this process reaches at the run's precision
(graphmer_dist/bench/peak.py), or at fp32 where the CPU has no native fp16/bf16. The source is named beside every MFU ("table:H100/bf16",
"measured:cpu/fp32").
"""

from __future__ import annotations

from graphmer_dist.hardware import GPU_TABLE, cpu_has_bf16, cpu_has_fp16, find_gpu

PEAK_FLOPS: dict[str, dict[str, float]] = {g.name: dict(g.peak_flops) for g in GPU_TABLE}


def canonical_device(device_name: str) -> str | None:
    """'Tesla T4' → 'T4', 'NVIDIA A100-SXM4-40GB' → 'A100', 'NVIDIA GeForce RTX 3070' → 'RTX3070'."""
    gpu = find_gpu(device_name)
    return gpu.name if gpu else None


def table_peak_flops(device_name: str, precision: str) -> float | None:
    """The datasheet peak for a known GPU at this precision, or None when the table has no entry."""
    gpu = find_gpu(device_name)
    return gpu.peak_flops.get(precision) if gpu else None


def cpu_peak_flops(precision: str = "fp32") -> float:
    """This process's dense matmul peak at `precision` (measured once per process and precision)."""
    if precision not in _CPU_PEAKS:
        import torch

        from graphmer_dist.bench.peak import matmul_peak_flops

        _CPU_PEAKS[precision] = matmul_peak_flops(torch.device("cpu"), precision)
    return _CPU_PEAKS[precision]


_CPU_PEAKS: dict[str, float] = {}


def resolve_peak(device_name: str, precision: str, device_type: str) -> tuple[float | None, str]:
    """(peak FLOP/s per device, where it came from) for MFU; (None, reason) when unknown."""
    if device_type == "cpu":
        # A CPU without native fp16/bf16 runs those matmuls through slow fallback kernels; measuring
        # that would flatter the run. The machine's honest peak is then its fp32 rate.
        native = {"fp32": True, "bf16": cpu_has_bf16(), "fp16": cpu_has_fp16()}.get(precision, False)
        measured_at = precision if native else "fp32"
        return cpu_peak_flops(measured_at), f"measured:cpu/{measured_at}"
    peak = table_peak_flops(device_name, precision)
    if peak is None:
        return None, f"unknown:{device_name}/{precision}"
    return peak, f"table:{canonical_device(device_name)}/{precision}"

"""The one table of GPUs graphmer-dist knows: memory, compute capability, native bf16/fp16, dense peaks.

Used by the platforms (planning for `--hardware 2xT4`, reading Ray's `accelerator_type:*`), by the
precision rule (graphmer_dist/precision_rule.py) and by MFU (graphmer_dist/records/peaks.py, which
`graphmer-launch bench` and the benchmark records share).

Memory is what `nvidia-smi` / `torch.cuda.get_device_properties().total_memory` reports (MiB).
Peaks are per device, DENSE (no 2:4 sparsity), in FLOP/s, from the vendors' datasheets/whitepapers:
  T4: NVIDIA Tesla T4 datasheet (fp32 8.1, mixed fp16 tensor 65 TFLOPS).
  P100: Tesla P100 PCIe 16 GB datasheet (fp32 9.3, fp16 18.7; no tensor cores: packed-fp16 rate).
  V100: Tesla V100 SXM2 datasheet (fp32 15.7, tensor 125).
  A10: NVIDIA A10 datasheet (fp32 31.2, bf16/fp16 tensor 125 dense, 250 sparse).
  A10G: AWS EC2 G5 documentation / A10G product brief (fp32 31.2, tensor 70 dense).
  L4: NVIDIA L4 datasheet (fp32 30.3, bf16/fp16 tensor 121 dense, 242 sparse).
  A100 40/80 GB: A100 datasheet, SXM4 (fp32 19.5, bf16/fp16 tensor 312 dense, 624 sparse).
  H100 SXM5 / PCIe: H100 datasheet (fp32 67 / 51, bf16/fp16 tensor 989 / 756 dense; the datasheet's
    1,979 / 1,513 are with sparsity).
  H200 SXM: H200 datasheet (same compute as H100 SXM: fp32 67, bf16/fp16 989 dense), 141 GB.
  RTX 3070 / 3080 / 3090: NVIDIA Ampere GA102 whitepaper appendix (GeForce tensor fp16/bf16 with FP32
    accumulate — what PyTorch uses — 40.6 / 59.5 / 71.0 dense; fp32 20.3 / 29.8 / 35.6).
  RTX 4090: Ada Lovelace whitepaper (fp16/bf16 tensor with FP32 accumulate 165.2 dense; fp32 82.6).
fp32 is the plain FP32 (non-TF32) rate: PyTorch keeps TF32 off for matmuls by default. A GPU without
native bf16 (compute capability < 8.0) has no bf16 peak: bf16 there is emulated, and an MFU against any
number would be meaningless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
GIB = 1024 * MIB
TFLOP = 1e12

BF16_MIN_CAPABILITY = (8, 0)
"""bf16 tensor cores arrived with Ampere (8.0). torch.cuda's is_bf16_supported also says yes on a T4
(7.5), because it counts emulation, which is slower than fp16 + loss scaling there: never ask it."""


@dataclass(frozen=True, slots=True)
class GpuModel:
    name: str
    memory_bytes: int
    compute_capability: tuple[int, int]
    peak_flops: dict[str, float]
    """precision → dense FLOP/s; a precision missing here is not native on this GPU."""
    match: tuple[str, ...] = field(default=())
    """Words a probed/user name must contain (default: the name's own words); most specific first."""

    @property
    def bf16(self) -> bool:
        return self.compute_capability >= BF16_MIN_CAPABILITY

    @property
    def fp16(self) -> bool:
        return "fp16" in self.peak_flops


_NOISE = {"NVIDIA", "TESLA", "GEFORCE"}


def _words(name: str) -> list[str]:
    """'NVIDIA GeForce RTX 3070' / 'rtx3070' → ['RTX3070']; 'NVIDIA A100-SXM4-80GB' → ['A100', 'SXM4', '80GB']."""
    text = re.sub(r"\bRTX[\s_-]+(\d)", r"RTX\1", name.upper())
    return [w for w in re.split(r"[\s_\-/]+", text) if w and w not in _NOISE]


def _gpu(name: str, memory_mib: int, cc: tuple[int, int], fp32: float, fp16: float, bf16: float | None,
         match: tuple[str, ...] = ()) -> GpuModel:
    peaks = {"fp32": fp32 * TFLOP, "fp16": fp16 * TFLOP}
    if bf16 is not None:
        peaks["bf16"] = bf16 * TFLOP
    return GpuModel(name, memory_mib * MIB, cc, peaks, match or tuple(_words(name)))


# Order matters for matching: a more specific entry (A100-80GB, H100-PCIE, A10G) before the one whose
# words it contains (A100, H100, A10).
GPU_TABLE: tuple[GpuModel, ...] = (
    _gpu("T4", 15360, (7, 5), 8.1, 65.0, None),
    _gpu("P100", 16280, (6, 0), 9.3, 18.7, None),
    _gpu("V100", 16384, (7, 0), 15.7, 125.0, None),
    _gpu("A10G", 23028, (8, 6), 31.2, 70.0, 70.0),
    _gpu("A10", 23028, (8, 6), 31.2, 125.0, 125.0),
    _gpu("L4", 23034, (8, 9), 30.3, 121.0, 121.0),
    _gpu("A100-80GB", 81920, (8, 0), 19.5, 312.0, 312.0),
    _gpu("A100", 40960, (8, 0), 19.5, 312.0, 312.0),
    _gpu("H100-PCIE", 81559, (9, 0), 51.0, 756.0, 756.0),
    _gpu("H100", 81559, (9, 0), 67.0, 989.0, 989.0),  # SXM5: 'NVIDIA H100 80GB HBM3'
    _gpu("H200", 143771, (9, 0), 67.0, 989.0, 989.0),
    _gpu("RTX3070", 8192, (8, 6), 20.3, 40.6, 40.6),
    _gpu("RTX3080", 10240, (8, 6), 29.8, 59.5, 59.5),
    _gpu("RTX3090", 24576, (8, 6), 35.6, 71.0, 71.0),
    _gpu("RTX4090", 24564, (8, 9), 82.6, 165.2, 165.2),
)

def find_gpu(name: str) -> GpuModel | None:
    """The table entry a device or user name means ('Tesla T4', 'a100-80gb', 'NVIDIA H100 PCIe'), or None."""
    words = set(_words(name))
    for gpu in GPU_TABLE:
        if all(w in words for w in gpu.match):
            return gpu
    return None


def known_gpu_names() -> list[str]:
    return [g.name for g in GPU_TABLE]


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def cpu_has_bf16() -> bool:
    """avx512_bf16 or AMX: bf16 matmuls run ~2× fp32 there (measured: ~400 vs ~170 GFLOP/s)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def cpu_has_fp16() -> bool:
    """avx512_fp16 or AMX-FP16 (Sapphire Rapids and later): fp16 arithmetic in hardware."""
    return bool(cpu_flags() & {"avx512_fp16", "amx_fp16"})

"""Standard GPUs by name: memory as `nvidia-smi` reports it and compute capability.

Used when planning away from a platform (`--platform kaggle` on a laptop) and to read Ray's
`accelerator_type:*` resources. Peak FLOPs live with the benchmark records (graphmer_dist/records/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphmer_dist.errors import ConfigError

MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True, slots=True)
class GpuModel:
    name: str
    memory_bytes: int
    compute_capability: tuple[int, int]

    @property
    def bf16(self) -> bool:
        # bf16 tensor cores arrived with Ampere (8.0). torch.cuda.is_bf16_supported() says True on a T4
        # because it can emulate bf16, but emulated bf16 is slower than fp16 + loss scaling there.
        return self.compute_capability >= (8, 0)


GPUS: dict[str, GpuModel] = {g.name.upper(): g for g in (
    GpuModel("T4", 15360 * MIB, (7, 5)),
    GpuModel("P100", 16280 * MIB, (6, 0)),
    GpuModel("V100", 16384 * MIB, (7, 0)),
    GpuModel("A10", 23028 * MIB, (8, 6)),
    GpuModel("L4", 23034 * MIB, (8, 9)),
    GpuModel("RTX3070", 8192 * MIB, (8, 6)),
    GpuModel("RTX3090", 24576 * MIB, (8, 6)),
    GpuModel("RTX4090", 24564 * MIB, (8, 9)),
    GpuModel("A100", 40960 * MIB, (8, 0)),
    GpuModel("A100-80GB", 81920 * MIB, (8, 0)),
    GpuModel("H100", 81559 * MIB, (9, 0)),
)}

_COUNT_PREFIX = re.compile(r"^(?:(\d+)x)?(?:(\d+)x)?(.+)$", re.IGNORECASE)


def gpu_model(name: str) -> GpuModel:
    """'T4', 't4', 'NVIDIA A100-SXM4-80GB', 'A100_80GB' → the table entry; ConfigError when unknown."""
    key = name.upper().replace(" ", "").replace("_", "-").removeprefix("NVIDIA").removeprefix("GEFORCE")
    key = key.replace("RTX-", "RTX")
    if key in GPUS:
        return GPUS[key]
    # Longest table name contained in the probed name ('A100-SXM4-80GB' → A100-80GB before A100).
    for known in sorted(GPUS, key=len, reverse=True):
        stem, _, variant = known.partition("-")
        if stem in key and (not variant or variant in key):
            return GPUS[known]
    raise ConfigError(f"unknown GPU '{name}'; known GPUs are {', '.join(g.name for g in GPUS.values())}")


def parse_hardware(text: str) -> tuple[int, int, GpuModel]:
    """'2xT4' → (1 node, 2 GPUs, T4); '4x8xA100' → (4 nodes, 8 GPUs each, A100); 'P100' → (1, 1, P100)."""
    match = _COUNT_PREFIX.match(text.strip())
    assert match is not None  # the pattern matches any non-empty text
    first, second, name = match.groups()
    nodes, per_node = (int(first), int(second)) if second else (1, int(first or 1))
    if nodes < 1 or per_node < 1:
        raise ConfigError(f"--hardware '{text}': counts must be at least 1, e.g. 2xT4 or 4x8xA100")
    return nodes, per_node, gpu_model(name)

"""Hardware strings of `--hardware` ('2xT4', '4x8xA100') and GPU names → the one GPU table.

The table itself (memory, compute capability, native bf16/fp16, peaks) is graphmer_dist/hardware.py.
"""

from __future__ import annotations

import re

from graphmer_dist.errors import ConfigError
from graphmer_dist.hardware import GIB, MIB, GpuModel, find_gpu, known_gpu_names

__all__ = ["GIB", "MIB", "GpuModel", "gpu_model", "parse_hardware"]

_COUNT_PREFIX = re.compile(r"^(?:(\d+)x)?(?:(\d+)x)?(.+)$", re.IGNORECASE)


def gpu_model(name: str) -> GpuModel:
    """'T4', 't4', 'NVIDIA A100-SXM4-80GB', 'A100_80GB' → the table entry; ConfigError when unknown."""
    found = find_gpu(name)
    if found is None:
        raise ConfigError(f"unknown GPU '{name}'; known GPUs are {', '.join(known_gpu_names())}")
    return found


def parse_hardware(text: str) -> tuple[int, int, GpuModel]:
    """'2xT4' → (1 node, 2 GPUs, T4); '4x8xA100' → (4 nodes, 8 GPUs each, A100); 'P100' → (1, 1, P100)."""
    match = _COUNT_PREFIX.match(text.strip())
    assert match is not None  # the pattern matches any non-empty text
    first, second, name = match.groups()
    nodes, per_node = (int(first), int(second)) if second else (1, int(first or 1))
    if nodes < 1 or per_node < 1:
        raise ConfigError(f"--hardware '{text}': counts must be at least 1, e.g. 2xT4 or 4x8xA100")
    return nodes, per_node, gpu_model(name)

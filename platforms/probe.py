"""Probes of the machine this process runs on: GPUs (via torch), CPU cores, RAM, CPU bf16 support.

Only adapters call these; nothing else in graphmer-dist looks at the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from graphmer_dist.hardware import cpu_has_bf16, cpu_has_fp16  # noqa: F401  (re-exported: the adapters' probe)


@dataclass(frozen=True, slots=True)
class ProbedGpu:
    name: str
    memory_bytes: int
    compute_capability: tuple[int, int]


def probe_gpus() -> list[ProbedGpu]:
    """The CUDA devices torch sees (empty on a CPU build or without a driver)."""
    import torch  # lazy: describing a CPU-less plan should not pay for importing torch

    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append(ProbedGpu(props.name, int(props.total_memory), (props.major, props.minor)))
    return gpus


def probe_cpus() -> int:
    """Cores this process may use (respects affinity masks / container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        return os.cpu_count() or 1


def probe_ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3  # unknown platform: assume a modest laptop rather than fail planning


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "cpu"

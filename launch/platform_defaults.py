"""What runs when no --config is given: a config and batch that keep the platform's devices busy.

A CPU gets cpu-small (3M parameters, minutes on 2 cores). A GPU gets the paper's graphmert-base with the
largest micro-batch of FILL_MICRO_BATCHES the memory plan fits, and a global batch of at least one
micro-batch per worker. Why: cpu-small (then d=256, 9M parameters) at global batch 8 used 0.47 GiB of a T4's 13.5 GiB and left
the GPU mostly idle, and on an H200 (graphmert-base, bf16, eager attention) MFU was 1.7% at micro-batch
16, 3.7% at 64, 5.1% at 256 (/work/team/gpu_batch_scaling.txt in the issue-13 notes): the micro-batch,
not the model, limits a big GPU. An explicit --config (or micro/global batch) wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from platforms.spec import PlatformSpec

CPU_DEFAULT = "cpu-small"
GPU_DEFAULT = "graphmert-base"
FILL_MICRO_BATCHES = (64, 32, 16, 8, 4, 2, 1)
"""Tried largest first. 64 caps a step's latency and the activations at ~12.5 GiB measured (H200);
beyond it MFU grows slowly (5.1% at 256) while every step takes 4x longer."""


@dataclass(frozen=True, slots=True)
class DefaultChoice:
    config: str
    why: str
    fill_device: bool
    """Pick the micro-batch (and grow the global batch) so the device's memory is used."""


def default_config(spec: PlatformSpec) -> DefaultChoice:
    if spec.accelerator == "cuda":
        return DefaultChoice(GPU_DEFAULT, f"no --config: {spec.device_name} gets the paper's {GPU_DEFAULT} "
                             f"({CPU_DEFAULT} would leave it mostly idle)", fill_device=True)
    return DefaultChoice(CPU_DEFAULT, f"no --config: a CPU gets {CPU_DEFAULT} (minutes on a few cores)",
                         fill_device=False)


def fill_global_batch(global_batch: int, micro_batch: int, workers: int) -> int:
    """At least one micro-batch per worker, and a whole number of them per worker."""
    unit = micro_batch * workers
    return max(unit, -(-global_batch // unit) * unit)

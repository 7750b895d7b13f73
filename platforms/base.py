"""The adapter base class and the helpers adapters share.

An adapter is stateless: class constants describe the platform, a static `detect()` looks at
environment variables and filesystem roots only, and `describe()` returns a `PlatformSpec`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from graphmer_dist.errors import ConfigError
from graphmer_dist.precision_rule import gpu_caps
from platforms.hardware import GIB, parse_hardware
from platforms.probe import ProbedGpu, cpu_has_bf16, cpu_has_fp16, cpu_name, probe_cpus, probe_gpus, probe_ram_bytes
from platforms.spec import PlatformSpec

ROOT_PREFIX_ENV = "GRAPHMER_PLATFORM_ROOT"
"""Prefix for every absolute platform path (/kaggle/working → $GRAPHMER_PLATFORM_ROOT/kaggle/working).
Unset in real use; tests point it at a temporary directory to simulate a platform's filesystem."""


def platform_path(path: str) -> Path:
    prefix = os.environ.get(ROOT_PREFIX_ENV, "")
    return Path(prefix + path) if prefix else Path(path)


def existing(path: str) -> str | None:
    """The platform path as text when that folder exists, else None (e.g. Drive not mounted)."""
    real = platform_path(path)
    return str(real) if real.is_dir() else None


class Platform(ABC):
    name: ClassVar[str]
    UNSUPPORTED: ClassVar[dict[str, str]] = {}
    """Feature → reason; the plan turns every requested one into a single error."""

    @staticmethod
    @abstractmethod
    def detect() -> bool:
        """True when this process runs on the platform (env vars / filesystem roots only)."""

    @abstractmethod
    def describe(self, hardware: str | None = None, address: str | None = None) -> PlatformSpec:
        """The platform's resources; `hardware` plans for a standard configuration instead of probing."""


def gpu_fields(gpus: list[ProbedGpu], nodes: int = 1) -> dict:
    """Spec fields for `gpus` (all the same model, as on every platform we support)."""
    first = gpus[0]
    caps = gpu_caps(first.name, first.compute_capability)  # the one precision rule decides bf16/fp16
    return dict(accelerator="cuda", num_devices=len(gpus) * nodes, device_name=first.name,
                device_memory_bytes=first.memory_bytes, compute_capability=first.compute_capability,
                bf16=caps.bf16, fp16=caps.fp16, num_nodes=nodes)


def preset_gpu_fields(hardware: str) -> dict:
    """Spec fields for a hardware string like '2xT4' or '4x8xA100'."""
    nodes, per_node, model = parse_hardware(hardware)
    gpu = ProbedGpu(model.name, model.memory_bytes, model.compute_capability)
    return gpu_fields([gpu] * per_node, nodes)


def cpu_fields(ram_bytes: int, name: str, probe: bool = True) -> dict:
    """Spec fields for a CPU-only machine: one 'device' whose memory is the RAM. bf16/fp16 are what this
    machine's flags compute natively (avx512_bf16/AMX-BF16, avx512_fp16/AMX-FP16) when `probe`, else neither
    (a notebook's standard CPU, which we cannot see from here)."""
    return dict(accelerator="cpu", num_devices=1, device_name=name, device_memory_bytes=ram_bytes,
                compute_capability=None, bf16=probe and cpu_has_bf16(), fp16=probe and cpu_has_fp16(), num_nodes=1)


def probed_fields() -> dict:
    """This machine: its GPUs if torch sees any, else its CPU; plus cores and RAM."""
    ram = probe_ram_bytes()
    gpus = probe_gpus()
    devices = gpu_fields(gpus) if gpus else cpu_fields(ram, cpu_name())
    return dict(devices, cpus=probe_cpus(), ram_bytes=ram)


class NotebookPlatform(Platform):
    """A hosted notebook VM: one node, known standard hardware, a session limit, fixed storage roots."""

    HARDWARE: ClassVar[tuple[str, ...]]
    """Accepted `--hardware` values; the first is the standard one assumed when planning away."""
    CPUS: ClassVar[int]
    RAM_BYTES: ClassVar[int]
    TIME_LIMIT_S: ClassVar[float | None]
    PREEMPTIBLE: ClassVar[bool] = False
    SCRATCH: ClassVar[str]
    PERSISTENT: ClassVar[str | None]
    INPUTS: ClassVar[str | None] = None

    def describe(self, hardware: str | None = None, address: str | None = None) -> PlatformSpec:
        assumed = hardware is not None or not self.detect()
        fields = self._standard_fields(hardware or self.HARDWARE[0]) if assumed else probed_fields()
        return PlatformSpec(name=self.name, **fields, time_limit_s=self.TIME_LIMIT_S,
                            preemptible=self.PREEMPTIBLE, assumed_hardware=assumed, **self.storage(),
                            notes=self.notes(), unsupported=dict(self.UNSUPPORTED))

    def _standard_fields(self, hardware: str) -> dict:
        if hardware.lower() in self.UNSUPPORTED:
            raise ConfigError(f"--hardware '{hardware}' on {self.name}: {self.UNSUPPORTED[hardware.lower()]}")
        if hardware.upper() not in {h.upper() for h in self.HARDWARE}:
            raise ConfigError(f"--hardware '{hardware}' is not offered on {self.name}; choose one of "
                              f"{', '.join(self.HARDWARE)}")
        if hardware.upper() == "CPU":
            devices = cpu_fields(self.RAM_BYTES, "cpu", probe=False)
        else:
            devices = preset_gpu_fields(hardware)
        return dict(devices, cpus=self.CPUS, ram_bytes=self.RAM_BYTES)

    def storage(self) -> dict:
        return dict(scratch_root=str(platform_path(self.SCRATCH)),
                    persistent_root=str(platform_path(self.PERSISTENT)) if self.PERSISTENT else None,
                    inputs_root=str(platform_path(self.INPUTS)) if self.INPUTS else None)

    def notes(self) -> tuple[str, ...]:
        return ()


__all__ = ["GIB", "NotebookPlatform", "Platform", "existing", "platform_path", "ROOT_PREFIX_ENV"]

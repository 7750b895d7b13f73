"""`local`: this workstation or laptop, read from the machine itself (e.g. an RTX 3070: 8 GB, CC 8.6)."""

from __future__ import annotations

from platforms.base import Platform, cpu_fields, preset_gpu_fields, probed_fields
from platforms.probe import cpu_name, probe_cpus, probe_ram_bytes
from platforms.registry import register
from platforms.spec import PlatformSpec


@register
class LocalPlatform(Platform):
    name = "local"
    UNSUPPORTED = {
        "multi_node": "local runs use this machine only; start a Ray cluster and use --platform cluster",
    }

    @staticmethod
    def detect() -> bool:
        return True  # the fallback: every machine is a local machine

    def describe(self, hardware: str | None = None, address: str | None = None) -> PlatformSpec:
        if hardware is None:
            fields = probed_fields()
        elif hardware.upper() == "CPU":
            ram = probe_ram_bytes()
            fields = dict(cpu_fields(ram, cpu_name()), cpus=probe_cpus(), ram_bytes=ram)
        else:
            # Planning for a GPU this machine may not have: its GPUs, with this machine's cores and RAM.
            fields = dict(preset_gpu_fields(hardware), cpus=probe_cpus(), ram_bytes=probe_ram_bytes())
        return PlatformSpec(name=self.name, **fields, assumed_hardware=hardware is not None,
                            scratch_root=None, persistent_root=None, unsupported=dict(self.UNSUPPORTED))

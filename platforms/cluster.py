"""`cluster`: an existing Ray cluster (RAY_ADDRESS or --address), described from its resources.

Workers on different nodes share no disk, so a multi-node cluster needs its run folder on shared
storage (s3://); the plan refuses a local run folder there. Ray is imported here only, lazily.
"""

from __future__ import annotations

import os

from graphmer_dist.errors import ConfigError
from platforms.base import GIB, Platform, preset_gpu_fields
from platforms.hardware import gpu_model
from platforms.registry import register
from platforms.spec import PlatformSpec

# Per GPU of an assumed node (`--hardware 4x8xA100` away from the cluster): a typical cloud GPU node.
ASSUMED_CPUS_PER_GPU = 8
ASSUMED_RAM_PER_GPU = 64 * GIB


@register
class ClusterPlatform(Platform):
    name = "cluster"
    UNSUPPORTED = {
        "local_run_dir": "the cluster has several nodes that share no disk, so a local run folder would "
                         "scatter checkpoints across machines; pass --run-dir s3://bucket/prefix",
    }

    @staticmethod
    def detect() -> bool:
        return bool(os.environ.get("RAY_ADDRESS"))

    def describe(self, hardware: str | None = None, address: str | None = None) -> PlatformSpec:
        address = address or os.environ.get("RAY_ADDRESS") or "auto"
        if hardware is not None:
            return self._assumed(hardware, address)
        resources, nodes = _read_cluster(address)
        return describe_from_resources(resources, nodes, address)

    def _assumed(self, hardware: str, address: str) -> PlatformSpec:
        fields = preset_gpu_fields(hardware)
        per_node = fields["num_devices"] // fields["num_nodes"]
        return PlatformSpec(name=self.name, **fields, cpus=ASSUMED_CPUS_PER_GPU * per_node,
                            ram_bytes=ASSUMED_RAM_PER_GPU * per_node, assumed_hardware=True,
                            shared_storage_required=fields["num_nodes"] > 1, address=address,
                            unsupported=dict(self.UNSUPPORTED))


def describe_from_resources(resources: dict[str, float], num_nodes: int, address: str) -> PlatformSpec:
    """A spec from `ray.cluster_resources()` and the number of alive nodes (pure: tests feed data)."""
    num_nodes = max(1, num_nodes)
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)) // num_nodes)
    ram = int(resources.get("memory", 0)) // num_nodes
    if gpus:
        types = sorted(k.partition(":")[2] for k in resources if k.startswith("accelerator_type:"))
        if len(types) != 1:
            raise ConfigError(f"the Ray cluster at {address} has {gpus} GPUs but reports "
                              f"{'no' if not types else 'several'} accelerator types {types}; pass "
                              "--hardware NODESxGPUSxMODEL (e.g. 4x8xA100) to say what they are")
        model = gpu_model(types[0])
        devices = dict(accelerator="cuda", num_devices=gpus, device_name=model.name,
                       device_memory_bytes=model.memory_bytes, compute_capability=model.compute_capability,
                       bf16=model.bf16, fp16=model.fp16)
    else:
        devices = dict(accelerator="cpu", num_devices=1, device_name="cpu", device_memory_bytes=ram,
                       compute_capability=None, bf16=False, fp16=False)
    return PlatformSpec(name="cluster", **devices, num_nodes=num_nodes, cpus=cpus, ram_bytes=ram,
                        shared_storage_required=num_nodes > 1, address=address,
                        unsupported=dict(ClusterPlatform.UNSUPPORTED))


def _read_cluster(address: str) -> tuple[dict[str, float], int]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--platform cluster needs Ray; install it with `pip install 'graphmer-dist[cluster]'`") from None
    try:
        if not ray.is_initialized():
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)  # see launch/ray_console.py
        return dict(ray.cluster_resources()), sum(1 for n in ray.nodes() if n.get("Alive"))
    except ConnectionError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at '{address}': {exc}; start it with `ray start --head` "
                          "or pass the right --address / RAY_ADDRESS") from None

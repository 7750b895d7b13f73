"""`PlatformSpec`: everything the plan needs to know about where a run happens, as plain data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class PlatformSpec:
    name: str
    """Adapter name: local, kaggle, colab, modelscope, cluster."""
    accelerator: str
    """'cuda' or 'cpu'."""
    num_devices: int
    """GPUs over the whole platform (all nodes); 1 for a CPU machine (its cores are `cpus`)."""
    device_name: str
    device_memory_bytes: int
    """Memory of one device; for a CPU, the RAM of one node."""
    compute_capability: tuple[int, int] | None
    bf16: bool
    """bf16 autocast is worth using: CUDA compute capability ≥ 8.0, or a CPU with avx512_bf16/AMX."""
    fp16: bool
    """fp16 computed natively (with loss scaling): GPUs from compute capability 7.0 / P100; CPUs with avx512_fp16."""
    cpus: int
    """CPU cores of one node."""
    ram_bytes: int
    """RAM of one node."""
    num_nodes: int = 1
    time_limit_s: float | None = None
    """The platform ends a session after this long; None = no limit."""
    preemptible: bool = False
    scratch_root: str | None = None
    """Fast local disk that disappears with the session."""
    persistent_root: str | None = None
    """Disk that outlives the session (the default home of run folders); None = none available."""
    inputs_root: str | None = None
    """Read-only inputs (e.g. a previous session's output attached as a dataset)."""
    shared_storage_required: bool = False
    """Workers do not share a disk: run folders must be on s3://."""
    assumed_hardware: bool = False
    """True when the hardware is the platform's standard one, not probed (planning away from it)."""
    address: str | None = None
    """Ray address (cluster only)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Facts the user should see in the plan (e.g. Drive not mounted)."""
    unsupported: dict[str, str] = field(default_factory=dict)
    """Feature → why this platform cannot do it (the adapter's `UNSUPPORTED` table)."""

    @property
    def multi_node(self) -> bool:
        return self.num_nodes > 1

    @property
    def devices_per_node(self) -> int:
        return max(1, self.num_devices // self.num_nodes)

    @property
    def max_workers(self) -> int:
        """Training processes the platform can hold: one per GPU, or one per core on CPU."""
        return self.num_devices if self.accelerator == "cuda" else self.cpus * self.num_nodes

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["compute_capability"] = list(self.compute_capability) if self.compute_capability else None
        out["notes"] = list(self.notes)
        out["multi_node"] = self.multi_node
        return out

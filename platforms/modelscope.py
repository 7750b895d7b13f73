"""`modelscope`: ModelScope notebooks (free GPU instance: one A10 24 GB, 8 CPUs, 32 GB RAM).

`/mnt/workspace` is the persistent disk of the instance. ModelScope does not publish a fixed session
length for the GPU instance (its free quota is counted in hours), so no session limit is assumed:
pass --time-limit to stop with a checkpoint before your quota ends.
"""

from __future__ import annotations

import os

from platforms.base import GIB, NotebookPlatform, platform_path
from platforms.registry import register

WORKSPACE = "/mnt/workspace"


@register
class ModelScopePlatform(NotebookPlatform):
    name = "modelscope"
    HARDWARE = ("A10", "CPU")
    CPUS = 8
    RAM_BYTES = 32 * GIB
    TIME_LIMIT_S = None
    PREEMPTIBLE = True  # idle instances are shut down
    SCRATCH = "/tmp"
    PERSISTENT = WORKSPACE
    INPUTS = WORKSPACE
    UNSUPPORTED = {
        "multi_node": "a ModelScope notebook is a single instance; use --platform cluster for several machines",
    }

    @staticmethod
    def detect() -> bool:
        return "MODELSCOPE_ENVIRONMENT" in os.environ or platform_path(WORKSPACE).is_dir()

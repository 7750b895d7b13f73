"""`kaggle`: Kaggle notebooks. 2×T4 (15 GB each) or one P100 (16 GB), 4 CPUs, 29 GB RAM, 12 h sessions.

`/kaggle/working` is saved with the notebook version (20 GB); `/kaggle/input` holds attached datasets
and earlier versions' outputs, read-only — `--resume auto` looks there to continue a previous session.
"""

from __future__ import annotations

import os

from platforms.base import GIB, NotebookPlatform
from platforms.registry import register


@register
class KagglePlatform(NotebookPlatform):
    name = "kaggle"
    HARDWARE = ("2xT4", "P100", "CPU")
    CPUS = 4
    RAM_BYTES = 29 * GIB
    TIME_LIMIT_S = 12 * 3600.0  # GPU and CPU sessions; TPU sessions get 9 h but TPUs are unsupported
    SCRATCH = "/kaggle/temp"
    PERSISTENT = "/kaggle/working"
    INPUTS = "/kaggle/input"
    UNSUPPORTED = {
        "multi_node": "a Kaggle notebook is a single VM; use --platform cluster for several machines",
        "tpu": "graphmer-dist trains with CUDA or CPU, not torch_xla; choose the 2xT4 or P100 accelerator",
    }

    @staticmethod
    def detect() -> bool:
        return "KAGGLE_KERNEL_RUN_TYPE" in os.environ

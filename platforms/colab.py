"""`colab`: Google Colab. Free tier: one T4 (15 GB), 2 CPUs, ~12.7 GB RAM, at most 12 h, may be reclaimed.

`/content` disappears with the runtime; Google Drive, when mounted, lives at `/content/drive/MyDrive`
and is the only persistent place, so run folders go there.
"""

from __future__ import annotations

import os

from platforms.base import NotebookPlatform, existing, platform_path
from platforms.hardware import MIB
from platforms.registry import register

DRIVE = "/content/drive/MyDrive"


@register
class ColabPlatform(NotebookPlatform):
    name = "colab"
    HARDWARE = ("T4", "L4", "A100", "CPU")  # free tier, then the Pro accelerators
    CPUS = 2
    RAM_BYTES = (12 * 1024 + 700) * MIB  # 12.7 GB as the runtime reports
    TIME_LIMIT_S = 12 * 3600.0
    PREEMPTIBLE = True  # idle runtimes are disconnected and free-tier GPUs reclaimed
    SCRATCH = "/content"
    PERSISTENT = DRIVE
    INPUTS = DRIVE
    UNSUPPORTED = {
        "multi_node": "a Colab runtime is a single VM; use --platform cluster for several machines",
        "tpu": "graphmer-dist trains with CUDA or CPU, not torch_xla; choose a GPU runtime",
    }

    @staticmethod
    def detect() -> bool:
        return "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ

    def storage(self) -> dict:
        drive = existing(DRIVE)
        return dict(scratch_root=str(platform_path(self.SCRATCH)), persistent_root=drive, inputs_root=drive)

    def notes(self) -> tuple[str, ...]:
        if existing(DRIVE):
            return ()
        return ("Google Drive is not mounted: the run folder is on /content and is lost when the runtime "
                "ends; mount it with `from google.colab import drive; drive.mount('/content/drive')`",)

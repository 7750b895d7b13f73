"""Platform adapters: what a platform has (devices, memory, storage, time limit) and how to detect it.

Importing the package registers every adapter; `resolve(name, hardware, address)` is the entry point.
"""

from platforms import cluster, colab, kaggle, local, modelscope  # noqa: F401  (registers the adapters)
from platforms.registry import DETECTION_ORDER, FALLBACK, REGISTRY, detect, get, resolve
from platforms.spec import PlatformSpec

__all__ = ["DETECTION_ORDER", "FALLBACK", "REGISTRY", "PlatformSpec", "detect", "get", "resolve"]

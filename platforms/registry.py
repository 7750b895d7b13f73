"""The adapter registry, detection order and `resolve()`.

Adapters register themselves with `@register`; `platforms/__init__.py` imports every adapter module
so the registry is complete before anyone resolves a name.
"""

from __future__ import annotations

from graphmer_dist.errors import ConfigError
from platforms.base import Platform
from platforms.spec import PlatformSpec

REGISTRY: dict[str, type[Platform]] = {}

# Precedence, most specific first. An explicit RAY_ADDRESS means the user (or `ray job submit`) points
# us at a cluster, which beats wherever this driver happens to run. The notebook services set their
# own environment variables; ModelScope is last among them because `/mnt/workspace` is only a
# filesystem hint. Nothing detected → `local`, the fallback, which describes this machine.
DETECTION_ORDER: tuple[str, ...] = ("cluster", "kaggle", "colab", "modelscope")
FALLBACK = "local"


def register(cls: type[Platform]) -> type[Platform]:
    assert cls.name not in REGISTRY, f"platform {cls.name!r} registered twice"
    REGISTRY[cls.name] = cls
    return cls


def detect() -> str:
    """The name of the platform this process runs on."""
    for name in DETECTION_ORDER:
        if REGISTRY[name].detect():
            return name
    return FALLBACK


def get(name: str) -> Platform:
    if name not in REGISTRY:
        raise ConfigError(f"unknown platform '{name}'; choose auto or one of {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]()


def resolve(name: str = "auto", hardware: str | None = None, address: str | None = None) -> PlatformSpec:
    """The spec of platform `name` ('auto' = detected; an --address alone also means a cluster)."""
    if name == "auto":
        name = "cluster" if address else detect()
    return get(name).describe(hardware=hardware, address=address)

"""Simulated platforms for tests: a platform's environment variables plus its directory roots
created under a temporary folder (GRAPHMER_PLATFORM_ROOT). The adapters run unpatched."""

from __future__ import annotations

from pathlib import Path

import pytest

from platforms.base import ROOT_PREFIX_ENV

# Every variable any adapter's detect() reads; cleared so the real machine cannot leak in.
DETECTION_ENV = ("RAY_ADDRESS", "KAGGLE_KERNEL_RUN_TYPE", "COLAB_RELEASE_TAG", "COLAB_GPU", "MODELSCOPE_ENVIRONMENT")

SIMULATIONS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    # name → (environment, folders that exist there)
    "kaggle": ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive", "KAGGLE_URL_BASE": "https://www.kaggle.com"},
               ("/kaggle/working", "/kaggle/input", "/kaggle/temp")),
    "colab": ({"COLAB_RELEASE_TAG": "release-colab_20260101-060000_RC00", "COLAB_GPU": "1"},
              ("/content", "/content/drive/MyDrive")),
    "modelscope": ({"MODELSCOPE_ENVIRONMENT": "dsw"}, ("/mnt/workspace",)),
    "cluster": ({"RAY_ADDRESS": "ray://head:10001"}, ()),
    "local": ({}, ()),
}


def simulate(monkeypatch: pytest.MonkeyPatch, root: Path, name: str,
             env: dict[str, str] | None = None, folders: tuple[str, ...] | None = None) -> Path:
    """Make this process look like platform `name` (or like nothing, for 'local')."""
    default_env, default_folders = SIMULATIONS[name]
    monkeypatch.setenv(ROOT_PREFIX_ENV, str(root))
    for key in DETECTION_ENV:
        monkeypatch.delenv(key, raising=False)
    for key, value in (default_env if env is None else env).items():
        monkeypatch.setenv(key, value)
    for folder in (default_folders if folders is None else folders):
        (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return root

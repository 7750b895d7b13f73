"""A ready-to-push Kaggle kernel: `kernel-metadata.json` plus one script that installs this package and trains.

Kaggle's `kaggle kernels push -p DIR` uploads only the metadata's `code_file`, so the script must carry
everything it needs. By default it embeds a zip of this checkout's package source (the code you push is the
code that runs, even without internet); `install_from` swaps that for a pip requirement instead.
Format of the metadata: https://github.com/Kaggle/kaggle-api/wiki/Kernel-Metadata
"""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from graphmer_dist.errors import ConfigError

CODE_FILE = "graphmer_train.py"
METADATA_FILE = "kernel-metadata.json"
SOURCE_PARTS = ("pyproject.toml", "README.md", "graphmer_dist", "platforms", "launch", "configs")
"""What `pip install -e` needs from a checkout: the project file and the three packages plus configs."""
SKIPPED_NAMES = {"__pycache__", ".pytest_cache"}
_KERNEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*/[a-z0-9][a-z0-9-]{4,49}$")
_SOURCE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
"""Fixed timestamps make the same checkout give byte-identical bundles."""


@dataclass(frozen=True, kw_only=True, slots=True)
class KaggleBundleOptions:
    kernel_id: str
    """`owner/slug`; Kaggle derives the slug from the title (lowercase, spaces → dashes)."""
    dataset_sources: tuple[str, ...] = ()
    """Datasets mounted read-only under /kaggle/input, e.g. a previous run's output saved as a dataset."""
    kernel_sources: tuple[str, ...] = ()
    """Kernels whose latest output is mounted under /kaggle/input (this kernel itself, to continue a run)."""
    internet: bool = True
    private: bool = True
    config: str | None = None
    extra_args: tuple[str, ...] = ()
    """More `graphmer-launch` flags, already split."""
    install_from: str | None = None
    """A pip requirement (e.g. a git URL) to install instead of the embedded source; needs internet."""

    def __post_init__(self) -> None:
        if not _KERNEL_ID.match(self.kernel_id):
            raise ConfigError(f"kaggle bundle --id '{self.kernel_id}' is not a Kaggle kernel id; use OWNER/SLUG "
                              "with your Kaggle username and a slug of 5-50 lowercase letters, digits and dashes "
                              "(e.g. --id alice/graphmer-se-train)")
        for ref in (*self.dataset_sources, *self.kernel_sources):
            if not _SOURCE_REF.match(ref):
                raise ConfigError(f"kaggle bundle source '{ref}' is not OWNER/SLUG; copy it from the dataset's or "
                                  "kernel's URL (kaggle.com/datasets/OWNER/SLUG or kaggle.com/code/OWNER/SLUG)")
        if self.install_from and not self.internet:
            raise ConfigError("kaggle bundle --install-from needs the kernel's internet to download "
                              f"'{self.install_from}'; drop --no-internet, or drop --install-from to embed the source")
        if "--platform" in self.extra_args:
            raise ConfigError("kaggle bundle --extra must not set --platform: the kernel always runs with "
                              "--platform kaggle; remove it from --extra")

    @property
    def title(self) -> str:
        """A title whose Kaggle slug is exactly our slug, so Kaggle never renames the kernel."""
        return self.kernel_id.split("/", 1)[1].replace("-", " ").title()


def train_command(options: KaggleBundleOptions) -> list[str]:
    """The `graphmer-launch` command the kernel runs."""
    command = ["graphmer-launch", "--platform", "kaggle"]
    if "--resume" not in options.extra_args:
        command += ["--resume", "auto"]
    if options.config:
        command += ["--config", options.config]
    return command + list(options.extra_args)


def kernel_metadata(options: KaggleBundleOptions) -> dict[str, object]:
    return {
        "id": options.kernel_id,
        "title": options.title,
        "code_file": CODE_FILE,
        "language": "python",
        "kernel_type": "script",
        "is_private": options.private,
        "enable_gpu": True,
        "enable_tpu": False,
        "enable_internet": options.internet,
        "dataset_sources": list(options.dataset_sources),
        "competition_sources": [],
        "kernel_sources": list(options.kernel_sources),
        "model_sources": [],
    }


def source_archive(root: Path) -> bytes:
    """A deterministic zip of the checkout parts `pip install -e` needs."""
    required = ("pyproject.toml", "graphmer_dist", "launch", "platforms")
    missing = [part for part in required if not (root / part).exists()]
    if missing:
        raise ConfigError(f"kaggle bundle embeds the package source but {root} is not a source checkout (missing "
                          f"{missing}); run it from a git clone, or pass --install-from with a pip requirement")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _source_files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _source_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for part in SOURCE_PARTS:
        path = root / part
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [p for p in candidates if p.is_file() and not SKIPPED_NAMES & set(p.parts)
                  and p.suffix != ".pyc" and ".egg-info" not in p.as_posix()]
    return files


def kernel_script(options: KaggleBundleOptions, archive: bytes | None) -> str:
    """The kernel's code file: the template with this bundle's values in place of its defaults."""
    encoded = base64.b64encode(archive).decode("ascii") if archive else ""
    chunks = [encoded[i:i + 100] for i in range(0, len(encoded), 100)]
    values = {
        "COMMAND": repr(train_command(options)),
        "INTERNET": repr(options.internet),
        "INSTALL_FROM": repr(options.install_from),
        "SOURCE_ZIP": "(\n" + "".join(f"    {chunk!r}\n" for chunk in chunks) + ")" if chunks else "''",
    }
    script = _TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        line = f"{name} = {value}"
        script, count = re.subn(rf"^{name} = .*$", lambda _, line=line: line, script, count=1, flags=re.M)
        assert count == 1, f"the kernel template lost its `{name} = ...` line"
    return script


def write_bundle(options: KaggleBundleOptions, out: Path, source_root: Path) -> list[Path]:
    """Write the metadata and the script into `out`; returns their paths."""
    archive = None if options.install_from else source_archive(source_root)
    if options.config and archive is not None:
        _check_config_is_shipped(options.config, source_root)
    out.mkdir(parents=True, exist_ok=True)
    metadata_path, script_path = out / METADATA_FILE, out / CODE_FILE
    metadata_path.write_text(json.dumps(kernel_metadata(options), indent=2) + "\n", encoding="utf-8")
    script_path.write_text(kernel_script(options, archive), encoding="utf-8")
    return [metadata_path, script_path]


def _check_config_is_shipped(name: str, root: Path) -> None:
    """The kernel only has the embedded configs/ folder; a local YAML path would not exist there."""
    if not (root / "configs" / f"{name}.yaml").is_file():
        names = sorted(p.stem for p in (root / "configs").glob("*.yaml"))
        raise ConfigError(f"kaggle bundle --config '{name}' is not a config in {root / 'configs'}; the kernel only "
                          f"has that folder. Copy your YAML there and pass its name, or use one of: {', '.join(names)}")


_TEMPLATE = Path(__file__).with_name("kaggle_kernel_template.py")

"""Find the source files of a corpus: walk folders, name modules, and skip what cannot be used.

Files that cannot be used are never silently dropped: each becomes a `Skipped` with a reason that the
dataset manifest counts. Only a corpus with no usable file at all is an error (`DataError`).
"""

from __future__ import annotations

import errno
import os
import stat
import sysconfig
from pathlib import Path

from graphmer_dist.config import DataConfig
from graphmer_dist.errors import DataError
from graphmer_dist.kg.types import Skipped, SourceFile

EXTENSIONS: dict[str, str] = {".py": "python", ".java": "java", ".js": "javascript", ".mjs": "javascript"}


def default_corpus() -> list[str]:
    """The embedded default corpus: the running interpreter's standard library (site-packages excluded
    by `discover_sources`, which always skips it for this corpus)."""
    return [sysconfig.get_paths()["stdlib"]]


def module_name(relative: Path) -> str:
    """`json/decoder.py` → `json.decoder`; `pkg/__init__.py` → `pkg`."""
    parts = list(relative.with_suffix("").parts)
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover_sources(paths: list[str], data: DataConfig) -> tuple[list[SourceFile], list[Skipped]]:
    """Every source file under `paths` in a language of `data.languages`, sorted by path, plus the files
    skipped on the way. Raises `DataError` for a missing path or a corpus without any usable file."""
    exclude = set(data.exclude)
    if not paths:
        paths, exclude = default_corpus(), exclude | {"site-packages"}
    walker = _Walker(data, exclude)
    for given in paths:
        walker.add_root(given)
    if not walker.files:
        raise DataError(
            f"the corpus {list(paths)} contains no usable {'/'.join(data.languages)} source file "
            f"({len(walker.skipped)} skipped; excluded path parts: {sorted(exclude)}). Point data.corpus "
            "(or --corpus) at a folder or files with source code, or leave it empty for the standard library.")
    files = sorted(walker.files.values(), key=lambda f: f.path)
    return files, sorted(walker.skipped, key=lambda s: s.path)


class _Walker:
    """Depth-first walk that follows folder symlinks once, remembering real folders to break loops."""

    def __init__(self, data: DataConfig, exclude: set[str]) -> None:
        self.data = data
        self.exclude = exclude
        self.files: dict[str, SourceFile] = {}
        self.skipped: list[Skipped] = []
        self._seen_dirs: set[tuple[int, int]] = set()

    def add_root(self, given: str) -> None:
        path = Path(given).expanduser().absolute()
        if not os.path.lexists(path):
            raise DataError(
                f"corpus path '{given}' does not exist. Check data.corpus (or --corpus): give existing "
                "source files or folders, or leave it empty to use the standard library.")
        if path.is_dir():
            self._walk(path, path)
        else:
            self._consider(path, path.parent, language_required=True)

    def _walk(self, folder: Path, root: Path) -> None:
        try:
            info = folder.stat()
        except OSError as exc:
            self._skip_error(folder, exc)
            return
        key = (info.st_dev, info.st_ino)
        if key in self._seen_dirs:
            self.skipped.append(Skipped(str(folder), "symlink_loop", "folder already walked"))
            return
        self._seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self._skip_error(folder, exc)
            return
        for entry in entries:
            if entry.name in self.exclude:
                continue
            child = Path(entry.path)
            if _is_dir(entry):
                self._walk(child, root)
            else:
                self._consider(child, root, language_required=False)

    def _consider(self, path: Path, root: Path, language_required: bool) -> None:
        language = EXTENSIONS.get(path.suffix)
        if language is None or language not in self.data.languages:
            if language is not None or language_required:
                self.skipped.append(Skipped(str(path), "unsupported_language",
                                            f"data.languages is {self.data.languages}"))
            return
        try:
            info = path.stat()
        except OSError as exc:
            self._skip_error(path, exc)
            return
        reason = _size_problem(info, self.data.max_file_bytes)
        if reason:
            self.skipped.append(Skipped(str(path), *reason))
            return
        self.files[str(path)] = SourceFile(str(path), str(root), module_name(path.relative_to(root)), language)

    def _skip_error(self, path: Path, exc: OSError) -> None:
        reason = "symlink_loop" if exc.errno == errno.ELOOP else "unreadable"
        self.skipped.append(Skipped(str(path), reason, exc.strerror or str(exc)))


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:  # a symlink loop: treated as a file so `_consider` records why it is skipped
        return False


def _size_problem(info: os.stat_result, max_bytes: int) -> tuple[str, str] | None:
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        return "unreadable", "not a regular file"
    if info.st_size == 0:
        return "empty", "0 bytes"
    if info.st_size > max_bytes:
        return "too_large", f"{info.st_size} bytes > data.max_file_bytes={max_bytes}"
    return None

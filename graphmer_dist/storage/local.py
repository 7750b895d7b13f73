"""Local-folder storage whose writes are atomic: temp file in the same folder, fsync, rename, fsync folder.

A process killed mid-write leaves at worst a `.tmp-*` file next to the target, never a half-written target.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from graphmer_dist.errors import StorageError
from graphmer_dist.storage.base import Storage

TEMP_PREFIX = ".tmp-"
"""Names starting with this are in-progress writes; `list` hides them."""

_COPY_CHUNK = 8 << 20


class LocalStorage(Storage):
    atomic_rename = True

    def __init__(self, root: str | Path) -> None:
        self.root = Path(os.path.expanduser(str(root).removeprefix("file://"))).absolute()
        super().__init__(str(self.root))

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def write_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda f: f.write(data))

    def write_file(self, key: str, path: Path, move: bool = False) -> None:
        if move and self._move_into_place(key, Path(path)):
            return
        with open(path, "rb") as src:
            self._atomic_write(key, lambda f: shutil.copyfileobj(src, f, _COPY_CHUNK))

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def read_file(self, key: str, path: Path) -> None:
        if self.path(key).resolve() != Path(path).resolve():
            shutil.copyfile(self.path(key), path)

    def list(self, prefix: str = "") -> dict[str, int]:
        base = self.path(prefix.strip("/"))
        if not base.is_dir():
            return {}
        out = {}
        for p in base.rglob("*"):
            rel = p.relative_to(self.root)
            if p.is_file() and not any(part.startswith(TEMP_PREFIX) for part in rel.parts):
                out[rel.as_posix()] = p.stat().st_size
        return dict(sorted(out.items()))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        target = self.path(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def rename_prefix(self, src: str, dst: str) -> None:
        """`os.rename` of a folder: the destination appears complete or not at all."""
        dst_path = self.path(dst)
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.path(src), dst_path)
        _fsync_dir(dst_path.parent)

    def _move_into_place(self, key: str, path: Path) -> bool:
        """Rename `path` to `key` (durably); False when they are on different filesystems."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as f:
            os.fsync(f.fileno())  # the rename must not publish data still in the page cache only
        try:
            os.replace(path, target)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                return False
            raise StorageError(f"cannot move {path} to {target}: {exc.strerror or exc}. Check that the folder "
                               "is writable, or choose another run folder with --run-dir.") from exc
        _fsync_dir(target.parent)
        return True

    def _atomic_write(self, key: str, write) -> None:
        target = self.path(key)
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except BaseException as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageError(
                    f"cannot write {target}: {exc.strerror or exc}. Check that the folder is writable and "
                    "the disk is not full, or choose another run folder with --run-dir."
                ) from exc
            raise


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: the folder entry itself must reach the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

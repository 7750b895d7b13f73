"""The storage interface: a root (local folder or s3://bucket/prefix) and slash-separated keys below it.

Keys are relative to the root ("checkpoints/step-0000100/model.pt"); `list` and `delete_prefix` work on
key prefixes, so "checkpoints/" names a folder. Implementations: `LocalStorage` (atomic local writes)
and `S3Storage` (retries with backoff). `atomic_rename` tells callers whether a folder can be published
by renaming a temporary one (local) or needs a completion marker written last (S3).
"""

from __future__ import annotations

import abc
from pathlib import Path


class Storage(abc.ABC):
    """A place to put bytes, addressed by keys under one root URI."""

    atomic_rename: bool = False
    """True when `rename_prefix` is a single atomic operation (a local `os.rename`)."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri.rstrip("/")

    def uri(self, key: str = "") -> str:
        """The full URI of `key`, for messages and for handing to other tools."""
        return f"{self.root_uri}/{key}" if key else self.root_uri

    @abc.abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Store `data` at `key`, replacing what was there; readers never see a partial object."""

    @abc.abstractmethod
    def write_file(self, key: str, path: Path, move: bool = False) -> None:
        """Store the local file `path` at `key` (streamed, for files too large to hold twice in memory).

        `move=True` hands the file over: local storage then renames it into place when it is on the same
        filesystem (no copy); the caller must not use `path` afterwards."""

    @abc.abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """The bytes at `key`; `FileNotFoundError` when there is no such key."""

    @abc.abstractmethod
    def read_file(self, key: str, path: Path) -> None:
        """Copy `key` into the local file `path` (streamed)."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> dict[str, int]:
        """Every key under the folder `prefix` (recursively) → its size in bytes; {} when there is none."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object (not a folder) exists at `key`."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under the folder `prefix`; deleting nothing is not an error."""

    def rename_prefix(self, src: str, dst: str) -> None:
        """Atomically move a folder of keys; only where `atomic_rename` is True."""
        raise NotImplementedError(f"{type(self).__name__} cannot rename atomically; write a marker last")

    def local_path(self, key: str) -> Path | None:
        """The local file behind `key` when there is one (local storage), else None."""
        return None

    def upload_dir(self, local_dir: Path, prefix: str) -> list[str]:
        """Copy every file below `local_dir` to `prefix/<relative path>`; returns the keys written."""
        keys = []
        for path in sorted(p for p in Path(local_dir).rglob("*") if p.is_file()):
            key = join(prefix, path.relative_to(local_dir).as_posix())
            self.write_file(key, path)
            keys.append(key)
        return keys

    def download_dir(self, prefix: str, local_dir: Path) -> list[Path]:
        """Copy every key under `prefix` into `local_dir`, keeping relative paths; returns the files."""
        cut = len(prefix.strip("/")) + 1 if prefix.strip("/") else 0
        written = []
        for key in sorted(self.list(prefix)):
            target = Path(local_dir) / key[cut:]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.read_file(key, target)
            written.append(target)
        return written

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root_uri!r})"


def join(*parts: str) -> str:
    """Join key components with '/', ignoring empty ones and stray slashes."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))

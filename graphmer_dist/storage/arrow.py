"""A pyarrow filesystem whose every S3 request goes through `S3Storage`: our boto3 client, our retry policy
(retry.py) and our give-up message (`StorageError` naming the URI and the fix, exit 3).

Why: Ray Train keeps its bookkeeping (checkpoint_manager_snapshot.json, a storage marker), deletes old
checkpoints and would download them through a pyarrow filesystem. pyarrow's S3 client retries a refused
connection for ~2.5 s and Ray adds 3 tries (~8 s in all, measured), while our storage rides out ~26-52 s;
so the same endpoint outage failed a Ray run that a single-process run survived. Handing Ray this
filesystem makes one client and one policy for every byte a run sends to S3, whatever the strategy.

    fs = s3_filesystem("my-bucket", endpoint="http://127.0.0.1:9000")   # paths are "my-bucket/key"
    pyarrow.fs.copy_files("my-bucket/run/checkpoints/step-0000002", "/tmp/ckpt", source_filesystem=fs)

Uploads of checkpoint files do not go through it: `pyarrow.fs.copy_files` drops an error raised when an
output stream is closed (measured, pyarrow 26: a failed upload returned as if it had worked), and this
filesystem uploads on close. Ray's checkpoint uploads are done by `CheckpointManager.publish_part`
(launch/ray_hooks.py); what Ray still writes here (its bookkeeping JSON) is written with `with
fs.open_output_stream(...)`, where the error does reach the caller.

S3 has no folders: like pyarrow's own S3 filesystem, `create_dir` writes an empty "<dir>/" marker object
(`S3Storage.list` skips those), and a path is a folder when a marker or any key lies below it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from graphmer_dist.storage.retry import RetryPolicy
from graphmer_dist.storage.s3 import S3Storage


def s3_filesystem(bucket: str, endpoint: str | None = None, policy: RetryPolicy | None = None) -> pafs.PyFileSystem:
    """A pyarrow filesystem over `s3://bucket` through S3Storage; picklable (Ray ships it to its workers)."""
    return pafs.PyFileSystem(StorageHandler(bucket, endpoint, policy))


class StorageHandler(pafs.FileSystemHandler):
    def __init__(self, bucket: str, endpoint: str | None = None, policy: RetryPolicy | None = None) -> None:
        self.bucket, self.endpoint, self.policy = bucket, endpoint or None, policy or RetryPolicy()
        self._storage: S3Storage | None = None

    # A boto3 client does not pickle: each process makes its own on first use.
    def __getstate__(self) -> dict:
        return {"bucket": self.bucket, "endpoint": self.endpoint, "policy": self.policy}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["bucket"], state["endpoint"], state["policy"])

    def __eq__(self, other) -> bool:
        return isinstance(other, StorageHandler) and self.__getstate__() == other.__getstate__()

    def __ne__(self, other) -> bool:
        return not self == other

    @property
    def storage(self) -> S3Storage:
        if self._storage is None:
            self._storage = S3Storage(f"s3://{self.bucket}", endpoint=self.endpoint, policy=self.policy)
        return self._storage

    def key(self, path: str) -> str:
        path = path.removeprefix("s3://").strip("/")
        bucket, _, key = path.partition("/")
        if bucket != self.bucket:
            raise ValueError(f"{path}: this filesystem serves the bucket '{self.bucket}' only")
        return key

    # -- requests, each through S3Storage's retries -------------------------------------------------------
    def _size(self, key: str) -> int | None:
        """The object's size, or None when there is no object at `key`."""
        s = self.storage
        try:
            head = s._call("check", key, lambda: s._client.head_object(Bucket=s.bucket, Key=key))
        except FileNotFoundError:
            return None
        return int(head["ContentLength"])

    def _below(self, key: str, limit: int | None = None) -> dict[str, int]:
        """Every object below the folder `key` (folder markers included) → its size; at most `limit`."""
        s, prefix = self.storage, f"{key}/" if key else ""

        def listing() -> dict[str, int]:
            found: dict[str, int] = {}
            pages = s._client.get_paginator("list_objects_v2").paginate(
                Bucket=s.bucket, Prefix=prefix, PaginationConfig={"MaxItems": limit} if limit else {})
            for page in pages:
                found.update({o["Key"]: int(o["Size"]) for o in page.get("Contents", [])})
            return found
        return s._call("list", key, listing)

    def _delete(self, keys: list[str], what: str) -> None:
        s = self.storage
        for start in range(0, len(keys), 1000):
            batch = {"Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True}
            s._call("delete", what, lambda: s._client.delete_objects(Bucket=s.bucket, Delete=batch))

    def _info(self, path: str) -> pafs.FileInfo:
        key = self.key(path)
        if not key:
            return pafs.FileInfo(path, pafs.FileType.Directory)
        size = self._size(key)
        if size is not None:
            return pafs.FileInfo(path, pafs.FileType.File, size=size)
        is_dir = bool(self._below(key, limit=1))
        return pafs.FileInfo(path, pafs.FileType.Directory if is_dir else pafs.FileType.NotFound)

    # -- pyarrow's FileSystemHandler ------------------------------------------------------------------------
    def get_type_name(self) -> str:
        return "graphmer-s3"

    def normalize_path(self, path: str) -> str:
        return path.removeprefix("s3://")

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return [self._info(path) for path in paths]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        base = selector.base_dir.removeprefix("s3://").strip("/")
        key = self.key(base)
        objects = self._below(key)
        if not objects:
            if self._size(key) is not None:
                raise NotADirectoryError(base)
            if selector.allow_not_found:
                return []
            raise FileNotFoundError(base)
        cut = len(key) + 1 if key else 0
        files: dict[str, int] = {}
        folders: set[str] = set()
        for name, size in objects.items():
            rel = name[cut:]
            parts = rel.rstrip("/").split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
            if rel.endswith("/"):
                folders.add(rel.rstrip("/"))
            elif rel:
                files[rel] = size
        folders.discard("")
        if not selector.recursive:
            files = {rel: size for rel, size in files.items() if "/" not in rel}
            folders = {rel for rel in folders if "/" not in rel}
        return ([pafs.FileInfo(f"{base}/{rel}", pafs.FileType.Directory) for rel in sorted(folders)]
                + [pafs.FileInfo(f"{base}/{rel}", pafs.FileType.File, size=size) for rel, size in sorted(files.items())])

    def create_dir(self, path: str, recursive: bool) -> None:
        key = self.key(path)
        if key and self._size(key) is None:
            s = self.storage
            s._call("upload", key + "/", lambda: s._client.put_object(Bucket=s.bucket, Key=key + "/", Body=b""))

    def delete_dir(self, path: str) -> None:
        key = self.key(path)
        if not key:
            raise PermissionError(f"refusing to delete the whole bucket {self.bucket}")
        self._delete(sorted(self._below(key)), key)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        key = self.key(path)
        if not key:
            raise PermissionError(f"refusing to empty the whole bucket {self.bucket}")
        objects = self._below(key)
        if not objects and not missing_dir_ok:
            raise FileNotFoundError(path)
        self._delete(sorted(k for k in objects if k != f"{key}/"), key)

    def delete_root_dir_contents(self) -> None:
        raise PermissionError(f"refusing to empty the whole bucket {self.bucket}")

    def delete_file(self, path: str) -> None:
        key = self.key(path)
        if self._size(key) is None:
            raise FileNotFoundError(path)
        self._delete([key], key)

    def copy_file(self, src: str, dest: str) -> None:
        s, source, target = self.storage, self.key(src), self.key(dest)
        s._call("copy", source, lambda: s._client.copy_object(
            Bucket=s.bucket, Key=target, CopySource={"Bucket": s.bucket, "Key": source}))

    def move(self, src: str, dest: str) -> None:
        self.copy_file(src, dest)
        self.delete_file(src)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.open_input_file(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        # Streamed to a temporary file (checkpoints can be GBs), which is unlinked once opened.
        fd, tmp = tempfile.mkstemp(prefix="graphmer-s3-read-")
        os.close(fd)
        try:
            self.storage.read_file(self.key(path), Path(tmp))
            return pa.OSFile(tmp, "r")
        finally:
            os.unlink(tmp)

    def open_output_stream(self, path: str, metadata=None) -> pa.NativeFile:
        return pa.PythonFile(_UploadOnClose(self.storage, self.key(path)), mode="w")

    def open_append_stream(self, path: str, metadata=None) -> pa.NativeFile:
        raise NotImplementedError("S3 objects cannot be appended to")


class _UploadOnClose:
    """A write-only file: bytes go to a local temporary file, uploaded (with retries) when it is closed."""

    def __init__(self, storage: S3Storage, key: str) -> None:
        self.storage, self.key = storage, key
        self.file = tempfile.NamedTemporaryFile(prefix="graphmer-s3-write-")
        self.closed = False

    def write(self, data) -> int:
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()

    def tell(self) -> int:
        return self.file.tell()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.file.flush()
            self.storage.write_file(self.key, Path(self.file.name))
        finally:
            self.file.close()

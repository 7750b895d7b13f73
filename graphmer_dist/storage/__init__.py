"""Storage for run folders and checkpoints: a local folder or an s3:// prefix behind one small interface.

    storage = open_storage("runs/exp1")                                   # LocalStorage
    storage = open_storage("s3://bucket/runs/exp1", endpoint="http://127.0.0.1:9000")  # S3Storage
    storage.write_bytes("config.json", b"...")        # keys are relative to the root, '/'-separated
    storage.read_bytes(key) / read_file(key, path) / write_file(key, path)
    storage.list("checkpoints")  -> {key: size}       # every key below a folder, recursively
    storage.exists(key) / delete_prefix(folder) / upload_dir(local, folder) / download_dir(folder, local)

Local writes are atomic (temp + fsync + rename). S3 requests retry transient errors (connection
refused/reset, timeouts, throttling, 5xx) with exponential backoff and then raise `StorageError` naming
the URI; missing keys raise `FileNotFoundError` on both.
"""

from __future__ import annotations

from graphmer_dist.storage.base import Storage, join
from graphmer_dist.storage.local import LocalStorage
from graphmer_dist.storage.retry import RetryPolicy

__all__ = ["Storage", "LocalStorage", "RetryPolicy", "open_storage", "is_remote", "join"]


def is_remote(uri: str) -> bool:
    return str(uri).startswith("s3://")


def open_storage(uri: str, endpoint: str | None = None, policy: RetryPolicy | None = None) -> Storage:
    """The storage behind `uri`: `s3://bucket/prefix` → S3Storage, anything else → a local folder.

    `endpoint` (config `checkpoint.s3_endpoint`) overrides the S3 service URL; it is ignored for local paths.
    """
    if is_remote(uri):
        from graphmer_dist.storage.s3 import S3Storage  # boto3 only when S3 is used

        return S3Storage(str(uri), endpoint=endpoint, policy=policy)
    return LocalStorage(uri)

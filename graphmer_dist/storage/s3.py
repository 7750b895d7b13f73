"""S3 (and S3-compatible: MinIO, moto) storage through boto3, imported only when an s3:// URI is used.

Credentials come from the usual AWS chain (environment, ~/.aws, instance role). `endpoint` overrides
the service URL (config `checkpoint.s3_endpoint`). botocore's own retries are switched off so there is
one retry policy (`retry.py`) whose give-up message names the URI and the fix.
"""

from __future__ import annotations

from pathlib import Path

from graphmer_dist.errors import StorageError
from graphmer_dist.storage import retry
from graphmer_dist.storage.base import Storage, join

_PART_BYTES = 64 << 20
"""Multipart part size for large files. boto3's default (8 MiB) means ~170 ranged requests per GB; some
S3-compatible servers (moto) copy the whole object per ranged GET, which made a 1.4 GB restore take 211 s."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' → ('bucket', 'a/b')."""
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StorageError(f"'{uri}' has no bucket name; write S3 locations as s3://bucket/prefix")
    return bucket, prefix.strip("/")


class S3Storage(Storage):
    atomic_rename = False

    def __init__(self, uri: str, endpoint: str | None = None, policy: retry.RetryPolicy | None = None,
                 connect_timeout: float = 5.0, read_timeout: float = 60.0) -> None:
        super().__init__(uri)
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.endpoint = endpoint or None
        self.policy = policy or retry.RetryPolicy()
        self._client = _make_client(self.endpoint, connect_timeout, read_timeout)

    def _key(self, key: str) -> str:
        return join(self.prefix, key)

    def write_bytes(self, key: str, data: bytes) -> None:
        self._call("upload", key, lambda: self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data))

    def write_file(self, key: str, path: Path, move: bool = False) -> None:
        self._call("upload", key,
                   lambda: self._client.upload_file(str(path), self.bucket, self._key(key), Config=_transfer_config()))

    def read_bytes(self, key: str) -> bytes:
        def get() -> bytes:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        return self._call("download", key, get)

    def read_file(self, key: str, path: Path) -> None:
        self._call("download", key,
                   lambda: self._client.download_file(self.bucket, self._key(key), str(path), Config=_transfer_config()))

    def list(self, prefix: str = "") -> dict[str, int]:
        full = self._key(prefix)
        full = full + "/" if full else ""  # a folder: "a/b" must not match "a/bc"
        cut = len(self.prefix) + 1 if self.prefix else 0

        def listing() -> dict[str, int]:
            out = {}
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/"):  # a folder marker (pyarrow writes them for Ray's uploads)
                        continue
                    out[obj["Key"][cut:]] = int(obj["Size"])
            return dict(sorted(out.items()))
        return self._call("list", prefix, listing)

    def exists(self, key: str) -> bool:
        try:
            self._call("check", key, lambda: self._client.head_object(Bucket=self.bucket, Key=self._key(key)))
        except FileNotFoundError:
            return False
        return True

    def delete_prefix(self, prefix: str) -> None:
        keys = [self._key(k) for k in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            batch = {"Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True}
            self._call("delete", prefix, lambda: self._client.delete_objects(Bucket=self.bucket, Delete=batch))

    def _call(self, action: str, key: str, fn):
        """Run one S3 request with retries; map what is left to FileNotFoundError or StorageError."""
        uri = self.uri(key)
        try:
            return retry.call_with_retries(fn, self.policy, lambda exc, n, secs: self._gave_up(action, uri, exc, n, secs))
        except StorageError:
            raise
        except Exception as exc:
            if retry.is_not_found(exc) and retry.error_code(exc) != "NoSuchBucket":
                raise FileNotFoundError(uri) from exc
            raise self._permanent(action, uri, exc) from exc

    def _gave_up(self, action: str, uri: str, exc: BaseException, tries: int, secs: float) -> StorageError:
        where = self.endpoint or "AWS S3"
        return StorageError(
            f"S3 {action} of {uri} failed {tries} times over {secs:.0f}s ({type(exc).__name__}: {exc}). "
            f"The endpoint {where} is unreachable, overloaded or failing. Check the network and "
            "checkpoint.s3_endpoint, then rerun with --resume auto: the run continues from the last "
            "checkpoint whose manifest was written."
        )

    def _permanent(self, action: str, uri: str, exc: BaseException) -> StorageError:
        code = retry.error_code(exc) or type(exc).__name__
        if code == "NoSuchBucket":
            fix = f"the bucket '{self.bucket}' does not exist; create it or point --run-dir at an existing bucket"
        elif code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoCredentialsError",
                      "PartialCredentialsError", "ExpiredToken"):
            fix = ("the credentials were refused or missing; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                   "AWS_PROFILE to an identity that may read and write this prefix")
        else:
            fix = "check the URI, the credentials and checkpoint.s3_endpoint"
        return StorageError(f"S3 {action} of {uri} failed: {code} ({exc}). {fix[0].upper()}{fix[1:]}.")


def _transfer_config():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=_PART_BYTES, multipart_chunksize=_PART_BYTES, max_concurrency=4)


def _make_client(endpoint: str | None, connect_timeout: float, read_timeout: float):
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - boto3 is a dependency, but installs get trimmed
        raise StorageError("s3:// run folders need boto3; install it with `pip install boto3`") from exc
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=connect_timeout, read_timeout=read_timeout,
                    s3={"addressing_style": "path"} if endpoint else None)
    return boto3.session.Session(botocore_session=_botocore_session()).client("s3", endpoint_url=endpoint,
                                                                              config=config)


_shared_loader = None


def _botocore_session():
    """A fresh session (credentials are looked up anew) sharing one loader of botocore's service models:
    parsing them costs ~0.5 s per client otherwise."""
    global _shared_loader
    import botocore.session

    session = botocore.session.Session()
    if _shared_loader is None:
        _shared_loader = session.get_component("data_loader")
    else:
        session.register_component("data_loader", _shared_loader)
    return session

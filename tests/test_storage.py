"""Storage behaviour on a local folder and on a real S3 endpoint (moto's server on 127.0.0.1)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from graphmer_dist.errors import StorageError
from graphmer_dist.storage import LocalStorage, RetryPolicy, open_storage
from graphmer_dist.storage.retry import is_transient

FAST_GIVE_UP = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


def test_open_storage_picks_the_backend_from_the_uri(tmp_path, s3):
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    remote = open_storage(s3.uri("a/b"), endpoint=s3.endpoint)
    assert (remote.bucket, remote.prefix) == (s3.bucket, "a/b")


def test_round_trip_list_exists_delete(run_storage):
    run_storage.write_bytes("checkpoints/step-1/a.bin", b"alpha")
    run_storage.write_bytes("checkpoints/step-12/b.bin", b"bb")
    run_storage.write_bytes("config.json", b"{}")
    assert run_storage.read_bytes("checkpoints/step-1/a.bin") == b"alpha"
    assert run_storage.list("checkpoints") == {"checkpoints/step-1/a.bin": 5, "checkpoints/step-12/b.bin": 2}
    assert run_storage.list("checkpoints/step-1") == {"checkpoints/step-1/a.bin": 5}  # a folder, not a prefix
    assert run_storage.exists("config.json") and not run_storage.exists("checkpoints")
    run_storage.delete_prefix("checkpoints/step-1")
    assert set(run_storage.list("")) == {"checkpoints/step-12/b.bin", "config.json"}
    run_storage.delete_prefix("nothing/here")  # deleting nothing is fine


def test_missing_key_is_file_not_found(run_storage):
    with pytest.raises(FileNotFoundError):
        run_storage.read_bytes("no/such/key")
    assert run_storage.list("no/such") == {}


def test_upload_and_download_dir_keep_relative_paths(run_storage, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "top.txt").write_bytes(b"top")
    (src / "sub" / "deep.bin").write_bytes(os.urandom(3000))
    keys = run_storage.upload_dir(src, "copy")
    assert keys == ["copy/sub/deep.bin", "copy/top.txt"]
    files = run_storage.download_dir("copy", tmp_path / "dst")
    assert sorted(p.relative_to(tmp_path / "dst").as_posix() for p in files) == ["sub/deep.bin", "top.txt"]
    assert (tmp_path / "dst/sub/deep.bin").read_bytes() == (src / "sub/deep.bin").read_bytes()


def test_write_file_streams_a_large_file(run_storage, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    run_storage.write_file("blobs/big.bin", big)
    out = tmp_path / "back.bin"
    run_storage.read_file("blobs/big.bin", out)
    assert out.read_bytes() == big.read_bytes()


def test_local_write_that_dies_midway_leaves_the_old_content(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write_bytes("state.bin", b"old")

    def die_halfway(f):
        f.write(b"half of the new")
        raise KeyboardInterrupt  # what a SIGINT inside the write looks like

    with pytest.raises(KeyboardInterrupt):
        storage._atomic_write("state.bin", die_halfway)
    assert storage.read_bytes("state.bin") == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]  # the temp file is gone too


def test_local_unwritable_folder_is_a_storage_error(tmp_path):
    (tmp_path / "file").write_text("x")
    storage = LocalStorage(tmp_path / "file" / "run")  # a run folder below a regular file
    with pytest.raises(StorageError, match=r"cannot write .*file/run/a\.bin.*--run-dir"):
        storage.write_bytes("a.bin", b"x")


def test_s3_unreachable_gives_up_with_a_storage_error_naming_the_uri(s3):
    storage = open_storage(s3.uri("run"), endpoint=s3.endpoint, policy=FAST_GIVE_UP)
    s3.server.stop()
    try:
        with pytest.raises(StorageError, match=rf"S3 upload of s3://{s3.bucket}/run/x failed 2 times.*"
                                               r"checkpoint\.s3_endpoint.*--resume auto"):
            storage.write_bytes("x", b"data")
    finally:
        s3.server.start()


def test_s3_outage_shorter_than_the_retries_is_ridden_out(s3):
    storage = open_storage(s3.uri("run"), endpoint=s3.endpoint,
                           policy=RetryPolicy(attempts=8, base_delay=0.2, max_delay=2.0))
    s3.server.stop()
    restart = threading.Timer(0.5, s3.server.start)
    restart.start()
    try:
        storage.write_bytes("x", b"written after the endpoint came back")
    finally:
        restart.join()
    assert storage.read_bytes("x") == b"written after the endpoint came back"


def test_s3_missing_bucket_fails_at_once_with_the_fix(s3):
    storage = open_storage("s3://no-such-bucket-here/run", endpoint=s3.endpoint)
    with pytest.raises(StorageError, match=r"NoSuchBucket.*bucket 'no-such-bucket-here' does not exist; create it"):
        storage.write_bytes("x", b"data")


def test_s3_bad_credentials_fail_at_once_with_the_fix(s3, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(Path("/nonexistent")))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(Path("/nonexistent")))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage = open_storage(s3.uri("run"), endpoint=s3.endpoint)
    with pytest.raises(StorageError, match=r"NoCredentialsError.*AWS_ACCESS_KEY_ID"):
        storage.write_bytes("x", b"data")


def test_transient_classification():
    from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

    def client_error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")

    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(client_error("SlowDown", 503)) and is_transient(client_error("Whatever", 500))
    assert is_transient(client_error("TooManyRequestsException", 429))
    assert not is_transient(client_error("AccessDenied", 403)) and not is_transient(client_error("NoSuchKey", 404))
    wrapped = RuntimeError("upload failed")
    wrapped.__cause__ = client_error("InternalError", 500)
    assert is_transient(wrapped) and not is_transient(ValueError("bad"))


def test_s3_missing_bucket_on_a_streamed_upload_is_named_too(s3, tmp_path):
    """boto3's transfer manager wraps the ClientError; the message still names the real cause."""
    (tmp_path / "f.bin").write_bytes(b"x" * 100)
    storage = open_storage("s3://no-such-bucket-here/run", endpoint=s3.endpoint)
    with pytest.raises(StorageError, match=r"upload of s3://no-such-bucket-here/run/f.bin failed: NoSuchBucket"):
        storage.write_file("f.bin", tmp_path / "f.bin")


def test_s3_folder_markers_are_not_files(s3, tmp_path):
    """pyarrow (Ray's checkpoint uploads) writes empty `folder/` objects; they are no file of the folder,
    so a Ray-written S3 checkpoint downloads and verifies like any other."""
    storage = open_storage(s3.uri("run"), s3.endpoint)
    storage.write_bytes("checkpoints/step-1/a.bin", b"alpha")
    s3.client.put_object(Bucket=s3.bucket, Key="run/checkpoints/step-1/", Body=b"")
    assert storage.list("checkpoints") == {"checkpoints/step-1/a.bin": 5}
    assert storage.download_dir("checkpoints/step-1", tmp_path / "copy") == [tmp_path / "copy" / "a.bin"]

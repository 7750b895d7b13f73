"""The pyarrow filesystem over our S3 storage (graphmer_dist/storage/arrow.py), which Ray Train is handed for
s3:// run folders: it must behave like a filesystem for what Ray does with it (existence checks, listings,
its bookkeeping JSON files, downloading a folder with pyarrow.fs.copy_files, deleting a checkpoint folder,
being pickled to a worker), and every request must follow our retry policy: ride out an outage, give up
with our message. Real parts: pyarrow's own copy_files and the loopback moto S3 server; no Ray needed.
(Checkpoint uploads do not go through it: launch/ray_hooks.py publishes them with CheckpointManager.)
"""

from __future__ import annotations

import os
import pickle

import pyarrow.fs as pafs
import pytest

from graphmer_dist.errors import StorageError
from graphmer_dist.storage import RetryPolicy, open_storage
from graphmer_dist.storage.arrow import s3_filesystem


def make_folder(root) -> dict[str, bytes]:
    files = {"model.pt": os.urandom(300_000), "train_state.json": b'{"step": 2}', "sub/rng.rank001.pt": b"r" * 10}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def read_folder(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_copy_files_round_trip_listings_and_deletes(s3, tmp_path):
    files = make_folder(tmp_path / "src")
    # Ray pickles the filesystem into its workers and compares it with the one checkpoints carry.
    fs = pickle.loads(pickle.dumps(s3_filesystem(s3.bucket, s3.endpoint)))
    assert fs == s3_filesystem(s3.bucket, s3.endpoint) and fs != s3_filesystem(s3.bucket, None)
    step = f"{s3.bucket}/run/checkpoints/step-0000002"
    fs.create_dir(step)  # what Ray does first: an empty folder exists as a folder
    assert fs.get_file_info(step).type == pafs.FileType.Directory
    pafs.copy_files(str(tmp_path / "src"), step, destination_filesystem=fs)

    info = {i.path: (i.type, i.size) for i in fs.get_file_info(pafs.FileSelector(f"{s3.bucket}/run", recursive=True))}
    assert info == {f"{s3.bucket}/run/checkpoints": (pafs.FileType.Directory, None),
                    step: (pafs.FileType.Directory, None), f"{step}/sub": (pafs.FileType.Directory, None),
                    **{f"{step}/{name}": (pafs.FileType.File, len(data)) for name, data in files.items()}}
    top = fs.get_file_info(pafs.FileSelector(step, recursive=False))
    assert sorted(i.base_name for i in top) == ["model.pt", "sub", "train_state.json"]
    assert fs.get_file_info(f"{s3.bucket}/run/nothing").type == pafs.FileType.NotFound
    assert fs.get_file_info(pafs.FileSelector(f"{s3.bucket}/nothing", allow_not_found=True)) == []
    # Our own storage sees exactly the files (the folder markers are no files), so the manager verifies them.
    assert open_storage(s3.uri("run"), s3.endpoint).list("checkpoints") == {
        f"checkpoints/step-0000002/{name}": len(data) for name, data in files.items()}

    pafs.copy_files(step, str(tmp_path / "back"), source_filesystem=fs)  # Ray's download after a restart
    assert read_folder(tmp_path / "back") == files
    with fs.open_output_stream(f"{s3.bucket}/run/checkpoints/snapshot.json") as out:  # Ray's bookkeeping
        out.write(b'{"a": 1}')
    assert fs.open_input_stream(f"{s3.bucket}/run/checkpoints/snapshot.json").read() == b'{"a": 1}'

    fs.delete_dir(step)  # Ray's retention
    assert fs.get_file_info(step).type == pafs.FileType.NotFound
    assert s3.client.list_objects_v2(Bucket=s3.bucket, Prefix="run/checkpoints/step").get("KeyCount") == 0
    with pytest.raises(ValueError, match="serves the bucket"):
        fs.get_file_info("another-bucket/x")


def test_a_bookkeeping_write_rides_out_an_outage(s3):
    fs = s3_filesystem(s3.bucket, s3.endpoint, RetryPolicy(attempts=8, base_delay=0.2, max_delay=2.0))
    s3.server.stop_at("PUT", "/run/checkpoints/snapshot.json", restart_after=2.0)
    with fs.open_output_stream(f"{s3.bucket}/run/checkpoints/snapshot.json") as out:
        out.write(b'{"latest": "step-0000002"}')
    assert len(s3.server.outage) == 2, "the outage never started or never ended"
    assert fs.open_input_stream(f"{s3.bucket}/run/checkpoints/snapshot.json").read() == b'{"latest": "step-0000002"}'


def test_an_outage_longer_than_the_policy_ends_in_our_storage_error(s3, tmp_path):
    fs = s3_filesystem(s3.bucket, s3.endpoint, RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02))
    step = f"{s3.bucket}/run/step"
    make_folder(tmp_path / "src")
    open_storage(s3.uri("run"), s3.endpoint).upload_dir(tmp_path / "src", "step")
    s3.server.stop_at("GET", "/run/step/model.pt")
    with pytest.raises(StorageError, match=rf"download of s3://{s3.bucket}/run/step/model.pt failed 2 times.*"
                                           r"checkpoint\.s3_endpoint"):
        pafs.copy_files(step, str(tmp_path / "back"), source_filesystem=fs)
    s3.server.start()
    s3.server.stop_at("PUT", "/run/snapshot.json")
    with pytest.raises(StorageError, match=rf"upload of s3://{s3.bucket}/run/snapshot.json failed 2 times"):
        with fs.open_output_stream(f"{s3.bucket}/run/snapshot.json") as out:
            out.write(b"{}")

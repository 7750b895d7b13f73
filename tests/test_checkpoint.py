"""Checkpoint publishing, verification, fallback and retention, on a local folder and on moto S3."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from graphmer_dist.checkpoint import CheckpointManager, MANIFEST, step_dirname
from graphmer_dist.errors import CheckpointError, StorageError
from graphmer_dist.storage import RetryPolicy, open_storage

META = {"config_hash": "cfg0", "model_hash": "mdl0", "world_size": 2, "strategy": "ddp"}


def payload(step: int) -> dict[str, bytes]:
    return {"model.pt": f"weights@{step}".encode() * 50, "train_state.pt": f"state@{step}".encode()}


def local_step_dir(storage, step: int) -> Path:
    return storage.local_path(f"checkpoints/{step_dirname(step)}")


def test_save_then_load_round_trip(run_storage, tmp_path):
    manager = CheckpointManager(run_storage, keep=3, cache_dir=tmp_path / "cache")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20))
    manager.save(100, {**payload(100), "big.bin": big}, {**META, "note": "extra meta is kept"})
    ref = manager.latest_valid()
    assert ref.step == 100 and ref.uri.endswith("checkpoints/step-0000100")
    folder = manager.load(ref)
    assert (folder / "model.pt").read_bytes() == payload(100)["model.pt"]
    assert (folder / "big.bin").read_bytes() == big.read_bytes()
    manifest = json.loads((folder / MANIFEST).read_bytes())
    assert {k: manifest[k] for k in META} == META and manifest["note"] == "extra meta is kept"
    assert manifest["step"] == 100 and set(manifest["files"]) == {"model.pt", "train_state.pt", "big.bin"}
    assert manifest["files"]["big.bin"]["size"] == 1 << 20


def test_truncated_file_falls_back_with_a_warning_naming_it(tmp_path, caplog):
    storage = open_storage(str(tmp_path / "run"))
    manager = CheckpointManager(storage, keep=3)
    manager.save(10, payload(10), META)
    manager.save(20, payload(20), META)
    model = local_step_dir(storage, 20) / "model.pt"
    model.write_bytes(model.read_bytes()[:17])
    with caplog.at_level(logging.WARNING):
        assert manager.latest_valid().step == 10
    assert "step-0000020" in caplog.text and "model.pt" in caplog.text and "truncated" in caplog.text
    with pytest.raises(CheckpointError, match=r"step-0000020 cannot be loaded: file model.pt has 17 bytes"):
        manager.load(20)


def test_flipped_byte_fails_the_checksum(run_storage, tmp_path, caplog):
    manager = CheckpointManager(run_storage, keep=3, cache_dir=tmp_path / "cache")
    manager.save(10, payload(10), META)
    manager.save(20, payload(20), META)
    key = f"checkpoints/{step_dirname(20)}/train_state.pt"
    data = bytearray(run_storage.read_bytes(key))
    data[0] ^= 0xFF
    run_storage.write_bytes(key, bytes(data))  # same size, different content
    fresh = CheckpointManager(run_storage, keep=3, cache_dir=tmp_path / "cache2")
    with caplog.at_level(logging.WARNING):
        assert fresh.latest_valid().step == 10
    assert "train_state.pt fails its sha256 checksum" in caplog.text


@pytest.mark.parametrize("manifest_bytes, reason", [
    (b'{"step": 20, "files": {"model.pt": ', "not valid JSON"),
    (b'["a list"]', "lacks 'step' or 'files'"),
])
def test_corrupt_manifest_is_skipped(run_storage, tmp_path, caplog, manifest_bytes, reason):
    manager = CheckpointManager(run_storage, keep=3, cache_dir=tmp_path / "cache")
    manager.save(10, payload(10), META)
    manager.save(20, payload(20), META)
    run_storage.write_bytes(f"checkpoints/{step_dirname(20)}/{MANIFEST}", manifest_bytes)
    with caplog.at_level(logging.WARNING):
        assert manager.latest_valid().step == 10
    assert reason in caplog.text and "step-0000020" in caplog.text


def test_crash_between_temp_write_and_rename_keeps_the_previous_checkpoint(tmp_path):
    """A real process dies (os._exit) after writing the temp folder, right before the rename."""
    run = tmp_path / "run"
    CheckpointManager(open_storage(str(run)), keep=2).save(10, payload(10), META)
    script = (
        "import os, sys\n"
        "from graphmer_dist.storage import open_storage, LocalStorage\n"
        "from graphmer_dist.checkpoint import CheckpointManager\n"
        "LocalStorage.rename_prefix = lambda self, src, dst: os._exit(9)  # the crash point under test\n"
        f"CheckpointManager(open_storage(sys.argv[1]), keep=2).save(20, {{'model.pt': b'new'}}, {META!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(run)], capture_output=True)
    assert proc.returncode == 9, proc.stderr.decode()
    leftovers = [p.name for p in (run / "checkpoints").iterdir()]
    assert any(name.startswith(".tmp-step-0000020") for name in leftovers)  # it really got that far
    manager = CheckpointManager(open_storage(str(run)), keep=2)
    assert manager.latest_valid().step == 10
    manager.save(30, payload(30), META)  # the next save sweeps the dead temp folder
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-0000010", "step-0000030"]


def test_retention_keeps_the_newest_k(run_storage):
    manager = CheckpointManager(run_storage, keep=2)
    for step in (1, 2, 3, 4):
        manager.save(step, payload(step), META)
    assert [r.step for r in manager.all_refs()] == [3, 4]


def test_retention_never_deletes_the_newest_valid_when_newer_ones_are_torn(tmp_path):
    storage = open_storage(str(tmp_path / "run"))
    manager = CheckpointManager(storage, keep=2)
    for step in (1, 2, 3):
        manager.save(step, payload(step), META)
    for step in (4, 5):  # saves that died before their manifest (S3-style torn folders)
        storage.write_bytes(f"checkpoints/{step_dirname(step)}/model.pt", b"partial")
    assert manager.prune() == []  # counting folders instead of complete checkpoints would delete 2 and 3
    assert [r.step for r in manager.list_valid()] == [2, 3]
    manager.save(6, payload(6), META)  # now 4 and 5 are older than a complete one: they can never finish
    assert [r.step for r in manager.all_refs()] == [3, 6]


def test_saving_an_existing_step_again_replaces_it(run_storage, tmp_path):
    manager = CheckpointManager(run_storage, keep=2, cache_dir=tmp_path / "cache")
    manager.save(10, {"model.pt": b"first", "stale.bin": b"only in the first save"}, META)
    manager.save(10, {"model.pt": b"second"}, META)
    folder = manager.load(10)
    assert (folder / "model.pt").read_bytes() == b"second"
    assert not (folder / "stale.bin").exists() and not run_storage.exists("checkpoints/step-0000010/stale.bin")


def test_s3_outage_during_upload_keeps_the_last_good_checkpoint(s3, tmp_path):
    """The endpoint goes away while a checkpoint's files upload: a clear StorageError; step 10 stays valid."""
    storage = open_storage(s3.uri("run"), endpoint=s3.endpoint,
                           policy=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02))
    manager = CheckpointManager(storage, keep=2, cache_dir=tmp_path / "cache")
    manager.save(10, payload(10), META)
    files = {f"part{i}.bin": os.urandom(4 << 20) for i in range(12)}
    stop_after_first_part = threading.Thread(target=_stop_when_uploaded, args=(s3, "run/checkpoints/step-0000020/"))
    stop_after_first_part.start()
    try:
        with pytest.raises(StorageError, match=r"S3 upload of s3://.*/run/checkpoints/step-0000020/part\d+\.bin failed"):
            manager.save(20, files, META)
    finally:
        stop_after_first_part.join()
        s3.server.start()
    assert not storage.exists(f"checkpoints/{step_dirname(20)}/{MANIFEST}")
    reopened = CheckpointManager(storage, keep=2, cache_dir=tmp_path / "cache2")
    assert reopened.latest_valid().step == 10
    assert (reopened.load(10) / "model.pt").read_bytes() == payload(10)["model.pt"]


def test_s3_outage_during_upload_shorter_than_the_retries_still_publishes(s3, tmp_path):
    storage = open_storage(s3.uri("run"), endpoint=s3.endpoint,
                           policy=RetryPolicy(attempts=8, base_delay=0.2, max_delay=2.0))
    manager = CheckpointManager(storage, keep=2, cache_dir=tmp_path / "cache")
    manager.save(10, payload(10), META)
    files = {f"part{i}.bin": os.urandom(4 << 20) for i in range(12)}
    saved, seen = threading.Event(), {}
    outage = threading.Thread(target=_stop_when_uploaded,
                              args=(s3, "run/checkpoints/step-0000020/", 0.5, saved, seen))
    outage.start()
    try:
        manager.save(20, files, META)
        saved.set()
    finally:
        outage.join()
    assert seen["save_was_running"], "the outage must hit the save, not follow it"
    assert [r.step for r in manager.list_valid()] == [10, 20]
    assert (manager.load(20) / "part11.bin").read_bytes() == files["part11.bin"]


def _stop_when_uploaded(s3, prefix: str, restart_after: float | None = None,
                        done: threading.Event | None = None, seen: dict | None = None) -> None:
    """Stop the server as soon as the first object under `prefix` exists (polls through its own client);
    start it again `restart_after` seconds later if given. Notes in `seen` whether `done` was still unset."""
    for _ in range(2000):
        if s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("KeyCount", 0):
            s3.server.stop()
            if seen is not None:
                seen["save_was_running"] = done is not None and not done.is_set()
            if restart_after is not None:
                threading.Event().wait(restart_after)
                s3.server.start()
            return
        threading.Event().wait(0.005)
    raise AssertionError("the upload never started")


def test_publish_hands_a_staged_folder_over_without_hashing_or_copying_again(tmp_path):
    from graphmer_dist.checkpoint.layout import write_manifest
    staged = tmp_path / "staging"
    staged.mkdir()
    (staged / "model.pt").write_bytes(b"w" * 4096)
    inode = (staged / "model.pt").stat().st_ino
    write_manifest(staged, 10, META, {"model.pt": {"sha256": hashlib.sha256(b"w" * 4096).hexdigest(), "size": 4096}})
    staged_manifest = (staged / "manifest.json").read_bytes()
    manager = CheckpointManager(open_storage(str(tmp_path / "run")), keep=2)
    manager.publish(staged)
    published = manager.load(manager.latest_valid())
    assert (published / "model.pt").stat().st_ino == inode  # renamed, not copied
    assert (published / "manifest.json").read_bytes() == staged_manifest  # written once, by the writer
    assert (published / "model.pt").read_bytes() == b"w" * 4096


def _staged_parts(root: Path, step: int) -> tuple[Path, Path]:
    """Rank 0's and rank 1's staged parts of one checkpoint, as Ray's workers leave them: rank 0's holds the
    manifest listing both ranks' files."""
    from graphmer_dist.checkpoint.layout import write_manifest
    rank0, rank1 = root / "rank0" / step_dirname(step), root / "rank1" / step_dirname(step)
    files = {rank0: {"model.pt": b"w" * 4096}, rank1: {"rng.rank001.pt": b"r" * 64}}
    entries = {}
    for folder, contents in files.items():
        folder.mkdir(parents=True)
        for name, data in contents.items():
            (folder / name).write_bytes(data)
            entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    write_manifest(rank0, step, META, entries)
    return rank0, rank1


def test_parts_published_separately_get_their_manifest_only_once_every_part_is_there(run_storage, tmp_path):
    """Ray's workers publish their own parts (launch/ray_hooks.py); rank 0, done first, must hold its manifest
    back until rank 1's file is in storage: a manifest still means a whole checkpoint."""
    rank0, rank1 = _staged_parts(tmp_path / "staging", 4)
    manager = CheckpointManager(run_storage, keep=2, cache_dir=tmp_path / "cache")
    publishing = threading.Thread(target=manager.publish_part, args=(rank0,), kwargs={"poll_s": 0.05})
    publishing.start()
    threading.Event().wait(0.5)
    assert publishing.is_alive() and not run_storage.exists(f"checkpoints/{step_dirname(4)}/{MANIFEST}")
    assert manager.latest_valid() is None
    manager.publish_part(rank1)
    publishing.join(timeout=30)
    assert not publishing.is_alive()
    assert [ref.step for ref in manager.list_valid()] == [4]


def test_a_part_that_never_comes_leaves_no_manifest_and_says_how_to_continue(tmp_path):
    rank0, _ = _staged_parts(tmp_path / "staging", 4)
    storage = open_storage(str(tmp_path / "run"))
    with pytest.raises(CheckpointError, match=r"step-0000004 was not published.*rng\.rank001\.pt is missing.*"
                                              r"--resume auto"):
        CheckpointManager(storage, keep=2).publish_part(rank0, wait_s=0.3, poll_s=0.05)
    assert not storage.exists(f"checkpoints/{step_dirname(4)}/{MANIFEST}")

"""An S3 outage during restore (issue 14): the launcher retries per the storage retry policy, then exits 3
with one paragraph naming the object and the fix, and loses nothing: the checkpoint in the bucket is intact
once the endpoint is back, and the same command then continues the run from it.

Real parts: the launcher's CLI in this process (single strategy), a run folder on the loopback moto S3
server (tests/fixtures/s3_server.py), and an outage that starts exactly mid-restore: the server stops when
the resume's first download of a checkpoint file arrives (after the listing and the manifest were read).
"""

from __future__ import annotations

import json

import pytest
from platform_sim import simulate

from graphmer_dist.checkpoint import CheckpointManager
from graphmer_dist.errors import StorageError
from graphmer_dist.storage import open_storage
from graphmer_dist.storage.retry import RetryPolicy
from launch.cli import main

pytestmark = pytest.mark.usefixtures("inductor_cache", "one_thread")


def objects(s3, prefix: str) -> dict[str, bytes]:
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.client.get_object(Bucket=s3.bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_s3_outage_during_restore_retries_then_exits_3_and_loses_nothing(s3, tiny_dataset, tmp_path, monkeypatch,
                                                                         capsys):
    simulate(monkeypatch, tmp_path, "local")
    args = ["--platform", "local", "--config", "tiny", "--dataset", str(tiny_dataset), "--strategy", "single",
            "--run-dir", s3.uri("run"), "--checkpoint-every", "2", "--set", f"checkpoint.s3_endpoint={s3.endpoint}",
            "--set", "model.attention=eager", "--set", "train.eval_every=1000"]
    assert main([*args, "--steps", "2"]) == 0, capsys.readouterr().err
    saved = objects(s3, "run/checkpoints/")
    assert any(key.endswith("step-0000002/manifest.json") for key in saved), sorted(saved)
    metrics = objects(s3, "run/metrics.jsonl")
    capsys.readouterr()

    # The policy's schedule (attempts, doubling, cap) as shipped, on a 50x shorter clock: the default
    # waits 26 to 52 s in all before giving up.
    unscaled = RetryPolicy.delay
    monkeypatch.setattr(RetryPolicy, "delay", lambda policy, attempt: unscaled(policy, attempt) / 50)
    s3.server.stop_at("GET", "/run/checkpoints/step-0000002/model.pt")
    try:
        code = main([*args, "--steps", "4"])
    finally:
        stopped_at = s3.server.stopped_at
        s3.server.start()
    err = capsys.readouterr().err
    assert stopped_at is not None, "the resume never downloaded the checkpoint"
    assert code == StorageError.exit_code == 3, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("graphmer-launch: error:")]
    assert len(errors) == 1, err[-3000:]
    assert f"S3 download of {s3.uri('run/checkpoints/step-0000002/')}" in errors[0]
    assert f"failed {RetryPolicy().attempts} times" in errors[0]  # retried per the policy, then gave up
    assert "checkpoint.s3_endpoint" in errors[0] and "--resume auto" in errors[0]

    # Nothing lost: every checkpoint object and the metrics are as they were, and the checkpoint verifies.
    assert objects(s3, "run/checkpoints/") == saved
    assert objects(s3, "run/metrics.jsonl") == metrics
    newest = CheckpointManager(open_storage(s3.uri("run"), endpoint=s3.endpoint), cache_dir=tmp_path / "c").latest_valid()
    assert newest is not None and newest.step == 2
    # And the same command, with the endpoint back, continues the run from step 2 (a fresh start would log
    # step 2 again).
    assert main([*args, "--steps", "4"]) == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in objects(s3, "run/metrics.jsonl")["run/metrics.jsonl"].splitlines()]
    assert [row["step"] for row in rows if "loss" in row] == [2, 4], rows

"""An S3 outage in the middle of a checkpoint upload (issue 14): the loopback S3 server stops the moment
step 2's model.pt upload arrives (leaving it unanswered) and comes back 20 s later. Both ways a run
publishes checkpoints must ride that out with the same retry policy (graphmer_dist/storage/retry.py,
26-52 s of backoff before giving up): the single-process path (CheckpointManager on boto3) and the Ray path
(each worker's part uploaded from inside `ray.train.report`, launch/ray_hooks.py). Riding out means: the
run finishes with exit 0 without restarting anything (every step is trained once), and every checkpoint in
the bucket verifies against its manifest. Measured here: the endpoint down 20.0-20.5 s, steps 2 -> 3 took
22.6 s (single process) and 27.9 s (Ray, 2 DDP workers); before the Ray path went through our storage
(pyarrow's S3 client, ~8 s of retries with Ray's) the Ray run failed.
"""

from __future__ import annotations

import json

import pytest
from fixtures.ray_runs import run_on_ray
from platform_sim import simulate

from graphmer_dist.checkpoint import CheckpointManager
from graphmer_dist.storage import open_storage
from launch.cli import main

OUTAGE_S = 20.0
UPLOAD = "/run/checkpoints/step-0000002/model.pt"


def assert_rode_out(s3, tmp_path, steps: int) -> None:
    outage = s3.server.outage
    assert s3.server.stopped_at is not None, "the run never uploaded step 2's model.pt"
    assert len(outage) == 2 and outage[1] - outage[0] >= OUTAGE_S, outage
    storage = open_storage(s3.uri("run"), endpoint=s3.endpoint)
    rows = [json.loads(line) for line in storage.read_bytes("metrics.jsonl").decode().splitlines()]
    # Each step once: no retry of the run or of Ray's worker group re-trained anything.
    trained = [row for row in rows if "loss" in row]
    assert [row["step"] for row in trained] == list(range(1, steps + 1)), rows
    # And the run waited for the endpoint between step 2 and step 3: the outage hit its upload.
    stall = trained[2]["time"] - trained[1]["time"]
    assert stall >= OUTAGE_S, f"steps 2 -> 3 took {stall:.1f} s; the endpoint was down {outage[1] - outage[0]:.1f} s"
    manager = CheckpointManager(storage, cache_dir=tmp_path / "verify")
    assert [ref.step for ref in manager.list_valid()] == [2, 4]
    assert [ref.step for ref in manager.all_refs()] == [2, 4]


@pytest.mark.slow
def test_single_process_checkpoint_upload_rides_out_a_20s_outage(s3, tiny_dataset, tmp_path, monkeypatch, capsys):
    simulate(monkeypatch, tmp_path, "local")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    s3.server.stop_at("PUT", UPLOAD, restart_after=OUTAGE_S)
    code = main(["--platform", "local", "--config", "tiny", "--dataset", str(tiny_dataset), "--strategy", "single",
                 "--run-dir", s3.uri("run"), "--steps", "4", "--checkpoint-every", "2",
                 "--set", f"checkpoint.s3_endpoint={s3.endpoint}", "--set", "model.attention=eager",
                 "--set", "train.eval_every=1000", "--set", "train.log_every=1"])
    assert code == 0, capsys.readouterr().err[-3000:]
    assert_rode_out(s3, tmp_path, steps=4)


@pytest.mark.slow
def test_ray_checkpoint_upload_rides_out_a_20s_outage(ray_cluster, s3, tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    s3.server.stop_at("PUT", UPLOAD, restart_after=OUTAGE_S)
    # No worker-group restarts allowed: the upload itself must wait the outage out.
    code = run_on_ray(tiny_dataset, s3.uri("run"), [
        "model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
        "train.steps=4", "checkpoint.every_steps=2", "parallel.strategy=ddp", "parallel.num_workers=2",
        "train.global_batch_size=8", "parallel.max_failures=0", f"checkpoint.s3_endpoint={s3.endpoint}"])
    assert code == 0
    assert_rode_out(s3, tmp_path, steps=4)

"""Ray Train DDP through `launch.runner.run`: 2 workers on the session's local Ray (gloo on CPU).

- a 2-worker run trains, and Ray's checkpoints land in our `<run_dir>/checkpoints/step-NNNNNNN/`
  layout (with our manifest) and load as plain model.pt;
- a worker that dies mid-run makes Ray restart the group from the last checkpoint and finish;
- the run then resumes exactly: it matches an uninterrupted 2-worker run bit for bit.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
from fixtures.ray_runs import checkpoint_weights, local_plan

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("inductor_cache")]

BASE = ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
        "train.steps=6", "checkpoint.every_steps=2", "parallel.strategy=ddp", "parallel.num_workers=2",
        "train.global_batch_size=8", "parallel.max_failures=1"]


def plan_for(dataset: Path, run_dir: Path):
    return local_plan(dataset, run_dir, BASE, plan_json=json.dumps({"strategy": "ddp"}))


def test_ddp_worker_killed_mid_run_restarts_from_checkpoint_and_matches_uninterrupted(
        ray_cluster, tiny_dataset, tmp_path, capsys):
    from launch import runner
    assert runner.run(plan_for(tiny_dataset, tmp_path / "clean")) == 0
    clean = tmp_path / "clean"
    manifest = json.loads((clean / "checkpoints" / "step-0000006" / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["strategy"] == "ddp"
    assert {"model.pt", "optimizer.pt", "train_state.json", "rng.rank000.pt", "rng.rank001.pt",
            "tokenizer.json"} <= set(manifest["files"])
    rows = [json.loads(line) for line in (clean / "metrics.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in rows if not row.get("eval")]
    assert len(losses) == 6 and all(l == l for l in losses)

    # Rank 1 dies (os._exit, like an OOM kill) right after publishing step 4, and step 4's weights are
    # changed behind the manifest's back (same size, loadable, wrong); the marker file makes it happen in
    # the first attempt only. Ray restarts both workers with step 4; its checksum fails, so they resume
    # from the run folder's newest valid checkpoint (step 2) and still end bit-identical.
    marker = str(tmp_path / "killed-once")

    # Local, not module-level: the workers unpickle the loop by value and cannot import this test module.
    def tamper_with_weights(path: Path) -> None:
        while not (path.parent / "manifest.json").exists():  # rank 0's folder: Ray merges the ranks' uploads
            time.sleep(0.05)
        time.sleep(1.0)  # its upload may still be copying the other files
        state = torch.load(path, weights_only=True)
        first = next(iter(state))
        state[first] = state[first] + 1.0
        torch.save(state, path)

    def loop_that_dies_once(job: dict) -> None:
        import ray.train
        from graphmer_dist.train.loop import train_loop_per_worker
        from launch.ray_hooks import RayHooks

        class DyingHooks(RayHooks):
            def report(self, metrics, checkpoint_dir):
                super().report(metrics, checkpoint_dir)
                rank = ray.train.get_context().get_world_rank()
                if metrics.get("step") == 4 and rank == 1 and not os.path.exists(marker):
                    open(marker, "w").close()
                    tamper_with_weights(Path(job["run_dir"]) / "checkpoints" / "step-0000004" / "model.pt")
                    os._exit(1)

        # launch/ray_lean.py's WORKER_ENV: the loop runs off the worker's main thread, with one malloc arena
        rank = ray.train.get_context().get_world_rank()
        Path(job["run_dir"]).mkdir(parents=True, exist_ok=True)
        Path(job["run_dir"], f"arena-max-rank{rank}").write_text(os.environ.get("MALLOC_ARENA_MAX", "unset"))
        train_loop_per_worker(job, DyingHooks(job))

    from launch.ray_driver import run_with_ray
    plan = plan_for(tiny_dataset, tmp_path / "killed")
    job = {"config": plan.config.to_dict(), "dataset_dir": str(tiny_dataset), "run_dir": plan.run_dir,
           "resume": "auto", "resume_roots": []}
    before = set(ray_actors())
    code, metrics = run_with_ray(job, use_gpu=False, address=None, loop=loop_that_dies_once)
    assert os.path.exists(marker), "the fault was never injected"
    assert code == 0 and metrics["step"] == 6
    assert [(tmp_path / "killed" / f"arena-max-rank{r}").read_text() for r in (0, 1)] == ["1", "1"]
    # On a private cluster Ray Train starts no DatasetManager, PlacementGroupCleaner or autoscaling
    # coordinator (launch/ray_lean.py), through a worker-group restart too.
    started = {name for actor_id, name in ray_actors().items() if actor_id not in before}
    assert started == {"DriverLink", "TrainController", "SynchronizationActor", "RayTrainWorker"}, started
    restarted = checkpoint_weights(tmp_path / "killed", 6)
    expected = checkpoint_weights(clean, 6)
    assert restarted.keys() == expected.keys()
    assert all(torch.equal(restarted[k], expected[k]) for k in expected), "resumed DDP run is not bit-identical"


def ray_actors() -> dict[str, str]:
    """Every actor the session's Ray has had (dead ones too): id → class name, from the GCS (the State
    API would need Ray's dashboard)."""
    from ray._private import state
    return {actor_id: actor["ActorClassName"] for actor_id, actor in state.actors().items()}


DRIVER = """
import json, sys
from types import SimpleNamespace
from graphmer_dist.config_loader import load_config
from launch import runner
config = load_config("tiny", json.loads(sys.argv[1]))
plan = SimpleNamespace(config=config, run_dir=sys.argv[2], use_gpu=False, resume_roots=[], time_limit_s=None,
                       address=sys.argv[3], platform="cluster", spec={"name": "cluster"}, to_json=lambda: "{}")
sys.exit(runner.run(plan))
"""


def test_sigterm_to_the_driver_checkpoints_on_the_workers_and_exits_75(ray_cluster, tiny_dataset, tmp_path):
    """The driver joins the session's cluster by address, like `--platform cluster` does."""
    import signal
    import subprocess
    import sys
    import time

    from graphmer_dist.train.preemption import EXIT_PREEMPTED
    overrides = [*BASE, "train.steps=100000", f"data.dataset_dir={tiny_dataset}"]
    address = ray_cluster.get_runtime_context().gcs_address
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(overrides), str(tmp_path), address],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while not (tmp_path / "checkpoints" / "step-0000002" / "manifest.json").exists():
        assert driver.poll() is None, driver.stdout.read()
        time.sleep(0.2)
    driver.send_signal(signal.SIGTERM)
    out = driver.communicate()[0]
    assert driver.returncode == EXIT_PREEMPTED, out[-3000:]
    steps = sorted(int(p.name[5:]) for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith("step-"))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == rows[-1]["step"] < 100000
    assert "stopped early" in out

"""Node loss on this machine: a local Ray cluster of a 1-CPU head and two 1-CPU nodes (one spare, as an
autoscaler would provide), 2 DDP workers, run folder on a loopback S3 (moto). Once the first checkpoint is
in S3, a node hosting a worker is removed without warning; Ray must restart the workers from the last
checkpoint and finish. Prints one line `RESULT {json}`: exit code, the steps in metrics.jsonl, the
checkpoints that were whole when the node went, the first step trained after, and the recovery times.

    PYTHONPATH=. python benchmarks/node_loss.py <tiny dataset folder> [--steps 6] [--endpoint URL --bucket NAME]

Without --endpoint it starts its own moto server (from the test fixtures) and bucket. Measured on the
shared 2-core machine at load ~10 (Ray workers at niceness 4: RAY_worker_niceness=0), node health checked
every 1 s (HEALTH_CHECKS below): the node went right after step 2's checkpoint; the first step after it
came 56.8 s later (step 3: resumed from step 2), the run finished 68.9 s after it, 200.6 s in all. Idle,
--steps 8: the surviving worker published step 4's checkpoint after the removal, step 5 came 11.4 s after
it (resumed from step 4), the end 19.8 s after it, 41.4 s in all.
tests/test_node_loss.py runs this script in a subprocess (the cluster must be the process's only Ray)
against the test's S3 server and checks the bucket itself afterwards. RAY_TMPDIR defaults to a fresh
short folder under /tmp.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
# Set before Ray starts so every node's processes inherit them: no token auth on loopback, the dummy S3
# credentials, and Ray Train's preemption watcher off (nothing drains these nodes).
CLUSTER_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0", **CREDENTIALS}
# The GCS marks a node dead after health_check_failure_threshold missed checks, period_ms apart; Ray's
# defaults (5 x 3 s) are shortened so that a test spends its time on the recovery, not on noticing.
# (Not measured against the defaults.)
HEALTH_CHECKS = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 1000,
                 "health_check_failure_threshold": 2}


def overrides(dataset: str, steps: int, endpoint: str) -> list[str]:
    return ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
            f"train.steps={steps}", "checkpoint.every_steps=2", "parallel.strategy=ddp", "parallel.num_workers=2",
            "train.global_batch_size=8", "parallel.max_failures=2", f"checkpoint.s3_endpoint={endpoint}",
            f"data.dataset_dir={dataset}"]


def run(dataset: str, endpoint: str, run_dir: str, steps: int) -> dict:
    """Train on a fresh 3-node cluster, remove a worker's node after the first checkpoint; what happened."""
    import ray
    from ray.cluster_utils import Cluster

    from graphmer_dist.checkpoint import CheckpointManager
    from graphmer_dist.config_loader import load_config
    from graphmer_dist.storage import open_storage
    from launch.ray_driver import run_with_ray

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                            "_system_config": HEALTH_CHECKS})
    nodes = [cluster.add_node(num_cpus=1), cluster.add_node(num_cpus=1)]  # one spare: the autoscaler's replacement
    ray.init(address=cluster.address)
    config = load_config("tiny", overrides(dataset, steps, endpoint))
    job = {"config": config.to_dict(), "dataset_dir": dataset, "run_dir": run_dir, "resume": "auto", "resume_roots": []}
    storage = open_storage(run_dir, endpoint)
    events: dict = {}

    def remove_a_worker_node() -> None:
        first = "checkpoints/step-0000002/manifest.json"
        while not storage.exists(first):
            time.sleep(0.2)
        free = ray._private.state.available_resources_per_node()  # a node whose one CPU is taken hosts a worker
        busy = {node for node, resources in free.items() if resources.get("CPU", 0) < 1}
        victim = next(node for node in nodes if node.node_id in busy)
        events.update(removed=time.time())
        cluster.remove_node(victim, allow_graceful=False)
        # Listed once the node is gone, not when the first checkpoint appeared: the run trains on while the
        # removal takes effect, and a fast machine writes another whole checkpoint in between (CI: step 4).
        whole = [ref.step for ref in CheckpointManager(storage).all_refs()
                 if storage.exists(f"{ref.key}/manifest.json")]
        events.update(whole_at_removal=whole)
        print(f"NODE REMOVED {victim.node_id}; checkpoints with a manifest then: {whole}", flush=True)

    threading.Thread(target=remove_a_worker_node, daemon=True).start()
    start = time.time()
    try:
        code, metrics = run_with_ray(job, use_gpu=False, address=cluster.address)
    finally:
        total = time.time() - start
        ray.shutdown()
        cluster.shutdown()
    rows = [json.loads(line) for line in storage.read_bytes("metrics.jsonl").decode().splitlines()]
    trained = [row for row in rows if "loss" in row and not row.get("eval")]
    removed = events.get("removed")
    restart = first_row_of_restart(trained, removed)
    return {"exit": code, "final_step": metrics.get("step"), "steps": [row["step"] for row in trained],
            "whole_at_removal": events.get("whole_at_removal"),
            "first_step_after": restart["step"] if restart else None,
            "removed_to_first_step_s": round(restart["time"] - removed, 1) if restart else None,
            "removed_to_end_s": round(start + total - removed, 1) if removed else None,
            "total_s": round(total, 1)}


def first_row_of_restart(trained: list[dict], removed: float | None) -> dict | None:
    """The first row the restarted workers logged: the one after the longest pause once the node went.

    Not simply the first row stamped after the removal: the surviving rank can still log (and publish a
    checkpoint for) a step whose gradients were all-reduced just before the node went, so rows of the
    first attempt may carry later times. Restarting (noticing the dead node, a new worker group, the
    restore) takes seconds; a tiny-config step or checkpoint upload takes well under one.
    """
    if removed is None:
        return None
    pauses = [(row["time"] - before["time"], row) for before, row in zip(trained, trained[1:])
              if row["time"] > removed]
    return max(pauses, key=lambda pause: pause[0])[1] if pauses else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--endpoint", help="an S3 endpoint already serving --bucket (default: start moto here)")
    parser.add_argument("--bucket", default="node-loss")
    args = parser.parse_args(argv)
    os.environ.update(CLUSTER_ENV)
    own_tmp = "RAY_TMPDIR" not in os.environ  # Ray's socket paths must stay short: not under pytest's tmp_path
    if own_tmp:
        os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rnl-", dir="/tmp")
    server = None
    if args.endpoint is None:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import boto3
        from fixtures.s3_server import MotoS3Server
        server = MotoS3Server()
        server.start()
        args.endpoint = server.endpoint
        boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1").create_bucket(Bucket=args.bucket)
    try:
        result = run(args.dataset, args.endpoint, f"s3://{args.bucket}/run", args.steps)
    finally:
        if server is not None:
            server.stop()
        if own_tmp:
            shutil.rmtree(os.environ["RAY_TMPDIR"], ignore_errors=True)
    print("RESULT", json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.exit(main(sys.argv[1:]))

"""Node loss on this machine: a local Ray cluster of a 1-CPU head and two 1-CPU nodes (one spare, as an
autoscaler would provide), 2 DDP workers, run folder on a loopback S3 (moto). Once step 4's checkpoint is
in S3, a node hosting a worker is removed without warning; Ray must restart the workers from the last
checkpoint and finish. Prints the steps trained, the valid checkpoints left and the recovery time.

    PYTHONPATH=. RAY_TMPDIR=/tmp/ray-node-loss python benchmarks/node_loss.py <tiny dataset folder>

Not in the test suite: it starts its own 3-node cluster (~2.5 min on a loaded 2-core machine)."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))  # the loopback S3 server of the test fixtures
os.environ.update({"RAY_AUTH_MODE": "disabled", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1", "TORCH_EXTENSIONS_DIR": os.path.expanduser("~/.cache/torch_extensions")})
from fixtures.s3_server import MotoS3Server
import boto3
import ray
from ray.cluster_utils import Cluster
from graphmer_dist.config_loader import load_config
from launch.ray_driver import run_with_ray
from graphmer_dist.checkpoint import CheckpointManager
from graphmer_dist.storage import open_storage

s3 = MotoS3Server(); s3.start()
boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1").create_bucket(Bucket="node-loss")
run_dir = "s3://node-loss/run"
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
nodes = [cluster.add_node(num_cpus=1), cluster.add_node(num_cpus=1)]  # one spare: the autoscaler's replacement
ray.init(address=cluster.address)
config = load_config("tiny", ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
    "train.steps=10", "checkpoint.every_steps=2", "parallel.strategy=ddp", "parallel.num_workers=2",
    "train.global_batch_size=8", "parallel.max_failures=2", f"checkpoint.s3_endpoint={s3.endpoint}",
    f"data.dataset_dir={sys.argv[1]}"])
job = {"config": config.to_dict(), "dataset_dir": sys.argv[1], "run_dir": run_dir, "resume": "auto", "resume_roots": []}
storage = open_storage(run_dir, s3.endpoint)
events = {}

def kill_node():
    while not storage.exists("checkpoints/step-0000004/manifest.json"):
        time.sleep(0.2)
    free = ray._private.state.available_resources_per_node()  # a node whose one CPU is taken hosts a worker
    busy = {n for n, res in free.items() if res.get("CPU", 0) < 1}
    victim = next(n for n in nodes if n.node_id in busy)
    events["removed"] = time.time()
    cluster.remove_node(victim, allow_graceful=False)
    print("NODE REMOVED", victim.node_id, "workers were on", busy, flush=True)
    while not storage.exists("checkpoints/step-0000006/manifest.json"):
        time.sleep(0.2)
    events["next_checkpoint"] = time.time()

threading.Thread(target=kill_node, daemon=True).start()
start = time.time()
code, metrics = run_with_ray(job, use_gpu=False, address=cluster.address)
rows = [json.loads(l) for l in storage.read_bytes("metrics.jsonl").decode().splitlines()]
steps = [r["step"] for r in rows if "loss" in r and not r.get("eval")]
manager = CheckpointManager(storage)
print("RESULT", json.dumps({"exit": code, "final_step": metrics.get("step"), "steps": steps,
      "valid_checkpoints": [r.step for r in manager.list_valid()], "all": [r.step for r in manager.all_refs()],
      "removed_to_first_step_s": min((r["time"] for r in rows if r.get("time", 0) > events.get("removed", 1e18)), default=0) - events.get("removed", 0),
      "removed_to_step6_checkpoint_s": events.get("next_checkpoint", 0) - events.get("removed", 0),
      "total_s": time.time() - start}), flush=True)
ray.shutdown(); cluster.shutdown(); s3.stop()

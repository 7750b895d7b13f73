"""The thin Ray Train driver: plan + job → ScalingConfig/RunConfig → TorchTrainer(ray_train_loop).fit().

Checkpoint layout decision: `RunConfig(storage_path=<run_dir>, name="checkpoints")` and every rank
reports with `checkpoint_dir_name="step-NNNNNNN"` (supported by `ray.train.report` in Ray 2.60), so
Ray's checkpoint folders *are* our `<run_dir>/checkpoints/step-NNNNNNN/` — written once (from each
rank's temp folder), pruned by `CheckpointConfig(num_to_keep=checkpoint.keep)`, and readable by
`--strategy single` and `graphmer-launch eval` like any other. Ray keeps its own bookkeeping
(`checkpoint_manager_snapshot.json`) in the same folder, and a group Ray retries within a launch resumes
from Ray's last registered checkpoint. Each launch starts that bookkeeping afresh
(`forget_earlier_ray_runs`): a new run finds its checkpoint through --resume and our newest-valid-checkpoint
search (`launch/ray_hooks.py`), and our retention prunes the folder when the run ends.

Ray Train V2 (the default in 2.60): no `resume_from_checkpoint`, `verbose`, `checkpoint_frequency`
or `trainer_resources` (they raise). S3 run folders: Ray gets a pyarrow filesystem over our boto3 storage
(graphmer_dist/storage/arrow.py), not pyarrow's own S3 client, so its checkpoint uploads, its downloads after
a restart and its bookkeeping retry an endpoint outage exactly like the single-process path (pyarrow's
client gave up after ~8 s with Ray's retries, failing runs the other path survived). On a cluster the
workers import this package from the job's working_dir or from the image. infra/ray/submit.sh
excludes the top-level .venv, runs and data folders anchored with a leading "/": Ray reads excludes
like .gitignore, and a bare "data" would also drop graphmer_dist/data from the upload.

Preemption: signals reach the driver, not Ray's workers, so the driver forwards SIGTERM/SIGINT to its
`DriverLink` actor (launch/ray_console.py) that rank 0 polls (at most once a second); the workers
checkpoint and the run exits 75.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable

from graphmer_dist.errors import ClusterError, UserError
from graphmer_dist.train.preemption import EXIT_PREEMPTED

RAY_RUN_SNAPSHOT = "checkpoint_manager_snapshot.json"
"""Ray Train's record of a run's registered checkpoints, in `<storage_path>/<name>/` (Ray 2.60)."""


def connect(address: str | None, num_cpus: int | None = None) -> None:
    """Join a running cluster (`address`, e.g. 'auto' under `ray job submit`) or start a local one,
    quietly: Ray's processes log to its session folder, printed once (launch/ray_console.py)."""
    import ray

    from launch.ray_console import QUIET_INIT, ray_logs_dir
    if not ray.is_initialized():
        if address:
            _init_or_explain(address, lambda: ray.init(address=address, **QUIET_INIT))
        else:
            # A private local cluster: token auth (on by default in 2.60) only gets in the way on loopback,
            # and nothing drains its one node, so Ray Train's preemption watcher (one more actor process
            # to start on a busy machine) has nothing to watch.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
            from launch.ray_lean import private_cluster_env  # workers at niceness 0: they are the job
            for key, value in private_cluster_env().items():
                os.environ.setdefault(key, value)
            _init_or_explain(None, lambda: ray.init(num_cpus=num_cpus, include_dashboard=False, **QUIET_INIT))
    print(f"Ray's logs (workers, controller): {ray_logs_dir() or 'the Ray session folder'}", flush=True)


def _init_or_explain(address: str | None, init: Callable[[], Any]) -> None:
    """Run `init` (a ray.init); a start-up or connection timeout, or a RAY_TMPDIR too long for Ray's
    sockets, becomes a ClusterError saying what failed and what to change, instead of Ray's traceback.
    Other errors are bugs and keep their traceback."""
    try:
        init()
    except Exception as exc:
        message = _start_failure(address, exc)
        if message is None:
            raise
        import ray
        if ray.is_initialized():  # half-started: let go of what did start
            ray.shutdown()
        raise ClusterError(message) from None


def _start_failure(address: str | None, exc: BaseException) -> str | None:
    """The paragraph for a ray.init failure a user can fix, or None. Ray reports its start-up and
    connection timeouts as TimeoutError, ConnectionError or a plain exception whose text says 'timed out'."""
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    tmp = os.environ.get("RAY_TMPDIR", "/tmp")
    if isinstance(exc, OSError) and "AF_UNIX path length" in str(exc):
        return (f"the local Ray cluster cannot start: RAY_TMPDIR ({tmp}) is too long for Ray's socket paths "
                f"(Ray said: {reason}). Set RAY_TMPDIR to a short local folder such as /tmp/ray-$USER.")
    if not (isinstance(exc, (TimeoutError, ConnectionError)) or "timed out" in str(exc).lower()):
        return None
    if address:
        return (f"could not connect to the Ray cluster at --address {address} in time (Ray said: {reason}). "
                "Check that the cluster is up there (`ray status` on its head node) and that the address is "
                "the head's GCS address (HOST:6379 by default) reachable from this machine; or drop "
                "--address (and --platform cluster) to start a private local cluster instead.")
    waits = os.environ.get("RAY_gcs_server_port_wait_time_s", "30")
    return (f"the local Ray cluster did not start in time (Ray said: {reason}). Ray waits "
            f"RAY_gcs_server_port_wait_time_s={waits} seconds for its GCS server and 30 s for its raylet; a "
            "busy machine can need more: retry when it is less loaded, or raise that variable (e.g. 120). "
            f"Ray keeps its sockets and logs under RAY_TMPDIR ({tmp}): it must be a local, writable folder "
            "with free space and a short path; its logs for this attempt are in "
            f"{tmp.rstrip('/')}/ray/session_latest/logs. Or join a cluster that is already running with "
            "--platform cluster --address HOST:6379.")


def storage(run_dir: str, endpoint: str) -> tuple[str, Any]:
    """(storage_path, storage_filesystem) for RunConfig; name='checkpoints' is appended by Ray."""
    if "://" not in run_dir:
        return os.path.abspath(os.path.expanduser(run_dir)), None
    if not run_dir.startswith("s3://"):
        raise UserError(f"run folder {run_dir}: only local paths and s3:// URIs are supported")
    from graphmer_dist.storage.arrow import s3_filesystem
    from graphmer_dist.storage.s3 import parse_s3_uri
    bucket, _ = parse_s3_uri(run_dir)
    return run_dir[len("s3://"):], s3_filesystem(bucket, endpoint or None)


def build_trainer(job: dict, use_gpu: bool, loop: Callable[[dict], None] | None = None,
                  private_cluster: bool = True):
    """`loop` defaults to `ray_train_loop`; tests pass one that injects faults around it. On a private
    local cluster Ray Train starts fewer actors (launch/ray_lean.py)."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig

    from launch.ray_hooks import ray_train_loop
    from launch.ray_lean import trainer_class, worker_runtime_env
    TorchTrainer = trainer_class(private_cluster)
    parallel, checkpoint = job["config"]["parallel"], job["config"]["checkpoint"]
    storage_path, filesystem = storage(job["run_dir"], checkpoint["s3_endpoint"])
    return TorchTrainer(
        loop or ray_train_loop,
        train_loop_config=job,
        scaling_config=ScalingConfig(num_workers=parallel["num_workers"], use_gpu=use_gpu,
                                     resources_per_worker={"CPU": parallel["cpus_per_worker"]}),
        run_config=RunConfig(name="checkpoints", storage_path=storage_path, storage_filesystem=filesystem,
                             failure_config=FailureConfig(max_failures=parallel["max_failures"]),
                             checkpoint_config=CheckpointConfig(num_to_keep=checkpoint["keep"]),
                             worker_runtime_env=worker_runtime_env()))


def run_with_ray(job: dict, use_gpu: bool, address: str | None,
                 loop: Callable[[dict], None] | None = None) -> tuple[int, dict]:
    """Train through Ray; (exit code, rank 0's last reported metrics)."""
    from ray.train import TrainingFailedError
    connect(address)
    from launch.ray_console import ConsolePump, DriverLink
    # Pinned to the driver's node: on any other node, losing that node would end the run instead of
    # letting Ray restart the workers from the last checkpoint.
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    link = DriverLink.options(scheduling_strategy=here).remote()  # stop requests to rank 0, its console to us
    job = {**job, "stop_flag": link, "console": link}
    previous = forward_signals(link)
    from graphmer_dist.train.loop import local_hooks
    checkpoints = local_hooks(job).manager  # the run folder's manager, as a single process would open it
    forget_earlier_ray_runs(checkpoints.storage)
    try:
        with ConsolePump(link):
            result = build_trainer(job, use_gpu, loop, private_cluster=address is None).fit()
    except TrainingFailedError as exc:
        user_error = find_user_error(exc)
        if user_error is not None:
            raise user_error from None
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # result.metrics are those of the last checkpoint (reports without one are not kept); every run
    # ends with a checkpoint, so its step tells a finished run from a stopped one.
    metrics = dict(result.metrics or {})
    done = metrics.get("step") == job["config"]["train"]["steps"]
    # Ray pruned only this launch's checkpoints; older launches' ones go by the single-process rule.
    checkpoints.prune()
    return (0 if done else EXIT_PREEMPTED), metrics


def forget_earlier_ray_runs(run_folder) -> None:
    """Remove the bookkeeping an earlier launch's Ray Train left in the run folder. Ray restores a run by
    storage path and name (ours fixed: `<run_dir>/checkpoints`), so a new launch was handed the earlier
    run's last checkpoint whatever --resume said (`--resume never` continued from it), and Ray's retention
    then deleted folders by the earlier run's entries: a fresh run rewriting `step-0000002` lost it, and
    the next launch failed on "a corrupted run directory". Only Ray's own file goes; no checkpoint does."""
    run_folder.delete_prefix(f"checkpoints/{RAY_RUN_SNAPSHOT}")


def forward_signals(stop_flag) -> dict:
    """SIGTERM/SIGINT on the driver → the workers finish their step, checkpoint and return 75.
    A second signal gets the previous handler (a user can still kill a stuck run)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(signum, frame):
        name = signal.Signals(signum).name
        print(f"graphmer-launch: {name} received; asking the workers to checkpoint and stop "
              "(send it again to stop at once)", flush=True)
        stop_flag.set.remote(name)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in previous:
        signal.signal(sig, handle)
    return previous


def find_user_error(exc: BaseException) -> UserError | None:
    """A worker's UserError inside Ray's wrappers, so the CLI prints it as one paragraph."""
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, UserError):
            return current
        stack.extend([current.__cause__, current.__context__, getattr(current, "cause", None)])
        stack.extend(getattr(current, "worker_failures", {}).values())
        stack.append(getattr(current, "controller_failure", None))
    return None

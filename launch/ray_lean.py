"""The parts of Ray Train a run of ours leaves out, and the worker priority it asks for.

Each Ray actor is a Python process to start and import Ray in, which on a 2-core machine is seconds of
CPU apiece before the first step. Ray Train V2 starts, besides its controller, the worker group and its
synchronization actor (all needed):
- a `DatasetManager`, whatever `datasets` holds; we pass none (the loop reads its own shards);
- on a private local cluster (no --address): a detached `PlacementGroupCleaner` that polls the State API
  every second so that a dead controller's placement group is freed. The cluster, its placement groups
  included, ends with our driver, so there is nothing for it to clean; and the
  `AutoscalingCoordinator` the scaling policy registers the group's resources with (a blocking call with
  a 5 s timeout, retried every 20 s) though a local cluster has no autoscaler to tell.
On a cluster we join (--address, `ray job submit`) both stay: there they do their job.

Ray starts its workers at niceness 15 (so that its own daemons stay responsive); on a private local
cluster the workers *are* the job, and at niceness 15 any other process on the machine takes the CPU
from them (measured: benchmarks/single_vs_ray.py). A user's own RAY_worker_niceness wins.

The workers also get one malloc arena (`WORKER_ENV`, below): Ray Train runs our loop off the worker's
main thread, which cost ~8% of the tokens/s in glibc's per-thread heaps.

GRAPHMER_RAY_STOCK=1 runs Ray Train as shipped (every actor, Ray's niceness, Ray's worker environment):
the escape hatch if a Ray release changes the internals this module names, and the benchmark's "before".
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

STOCK_ENV = "GRAPHMER_RAY_STOCK"


def stock() -> bool:
    return os.environ.get(STOCK_ENV, "0") not in ("", "0")


WORKER_ENV = {"MALLOC_ARENA_MAX": "1"}
"""Environment of Ray Train's worker processes, wherever they run. Ray Train calls the training loop on a
second thread of the worker; glibc gives such a thread a malloc arena of its own, made of 64 MiB heaps
that give memory back when a step's tensors are freed and fault it in again in the next step. The same
loop on a second thread of a plain process made a median 0.92× the tokens/s of the main thread (8 ABBA
rounds, 0.86–1.02×; ~15,500 vs ~13,000 page faults a step), and 1.02× with one arena (8 rounds,
0.87–1.14×; cpu-small, 2 threads, benchmarks/loop_on_thread.py). One arena is what the single-process
path has: its loop is the main thread's. A value the driver's environment sets wins."""


def worker_runtime_env() -> dict:
    """`RunConfig(worker_runtime_env=...)` for the training workers (empty under GRAPHMER_RAY_STOCK)."""
    if stock():
        return {}
    return {"env_vars": {name: os.environ.get(name, value) for name, value in WORKER_ENV.items()}}


def private_cluster_env() -> dict[str, str]:
    """Environment for the `ray.init` that starts a private local cluster (its workers inherit it)."""
    return {} if stock() else {"RAY_worker_niceness": "0"}


try:  # the internals named here; another Ray version without them runs as shipped
    from ray.train.torch import TorchTrainer
    from ray.train.v2._internal.callbacks import DatasetsCallback
    from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback
    from ray.train.v2._internal.execution.scaling_policy import FixedScalingPolicy
except ImportError as exc:  # pragma: no cover - depends on the installed Ray
    log.debug("Ray Train V2 internals not found (%s); Ray Train runs as shipped", exc)
    FixedScalingPolicy = None


def trainer_class(private_cluster: bool):
    """TorchTrainer, or a subclass that leaves out what a run of ours does not need (see the docstring)."""
    from ray.train.torch import TorchTrainer as Stock
    if stock() or FixedScalingPolicy is None:
        return Stock
    return LeanTorchTrainer if private_cluster else LeanTorchTrainerOnCluster


def lean_controller_kwargs(kwargs: dict, private_cluster: bool, has_datasets: bool) -> dict:
    """The controller's arguments without the callbacks and resource requests we do not need."""
    drop: tuple[type, ...] = () if has_datasets else (DatasetsCallback,)
    if private_cluster:
        drop += (PlacementGroupCleanerCallback,)
    out = dict(kwargs)
    if isinstance(kwargs.get("callbacks"), list):
        out["callbacks"] = [cb for cb in kwargs["callbacks"] if not isinstance(cb, drop)]
    policy = kwargs.get("scaling_policy")
    if private_cluster and type(policy) is FixedScalingPolicy:
        out["scaling_policy"] = FixedWithoutRequests(policy.scaling_config)
    return out


if FixedScalingPolicy is not None:
    class FixedWithoutRequests(FixedScalingPolicy):
        """Ray's fixed-size policy minus the resource requests to an autoscaler (a local cluster has none);
        the controller unpickles it, so it lives at module level."""

        def after_controller_start(self, train_run_context) -> None:
            pass

        def _maybe_send_resource_request(self) -> None:
            pass

        def _send_resource_request(self) -> None:
            pass

        def _cancel_resource_request(self) -> None:
            pass

    class LeanTorchTrainerOnCluster(TorchTrainer):
        """On a cluster we join: only the DatasetManager goes (we pass no datasets)."""

        private_cluster = False

        def _initialize_and_run_controller(self, **kwargs: Any):
            return super()._initialize_and_run_controller(
                **lean_controller_kwargs(kwargs, self.private_cluster, bool(self.datasets)))

    class LeanTorchTrainer(LeanTorchTrainerOnCluster):
        """On a private local cluster: no DatasetManager, PlacementGroupCleaner or AutoscalingCoordinator."""

        private_cluster = True

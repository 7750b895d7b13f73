"""Ray Train with fewer actors (issue 15, launch/ray_lean.py): what the controller is given, checked on
Ray Train's own callback list and scaling policy, without a cluster. The runs through the lean trainer
are tests/test_ray_driver.py's (a private cluster, with a worker-group restart) and the console and
sweep tests (a joined cluster)."""

from __future__ import annotations

import pytest

pytest.importorskip("ray.train.v2")

from ray import cloudpickle  # noqa: E402
from ray.train import RunConfig, ScalingConfig  # noqa: E402
from ray.train.torch import TorchTrainer  # noqa: E402
from ray.train.v2._internal.execution.scaling_policy import FixedScalingPolicy, create_scaling_policy  # noqa: E402

from launch import ray_lean  # noqa: E402


def controller_kwargs(private_cluster: bool, tmp_path) -> tuple[list[str], object]:
    trainer = ray_lean.trainer_class(private_cluster)(
        lambda config: None, train_loop_config={}, scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(storage_path=str(tmp_path), name="checkpoints"))
    stock = {"callbacks": trainer._create_default_callbacks(), "scaling_policy": create_scaling_policy(trainer.scaling_config)}
    assert {"DatasetsCallback", "PlacementGroupCleanerCallback"} <= {type(cb).__name__ for cb in stock["callbacks"]}
    lean = ray_lean.lean_controller_kwargs(stock, trainer.private_cluster, bool(trainer.datasets))
    return [type(cb).__name__ for cb in lean["callbacks"]], lean["scaling_policy"]


def test_a_private_cluster_starts_no_dataset_manager_cleaner_or_autoscaler_requests(tmp_path):
    callbacks, policy = controller_kwargs(True, tmp_path)
    assert "DatasetsCallback" not in callbacks and "PlacementGroupCleanerCallback" not in callbacks
    assert {"BackendSetupCallback", "AcceleratorSetupCallback"} <= set(callbacks)  # what sets up torch stays
    assert isinstance(policy, FixedScalingPolicy) and type(policy).__name__ == "FixedWithoutRequests"
    # The controller receives it pickled; it sizes the group like Ray's and never asks for an autoscaler.
    policy = cloudpickle.loads(cloudpickle.dumps(policy))
    policy.after_controller_start(train_run_context=None)
    decision = policy.make_decision_for_non_running_worker_group()
    assert decision.num_workers == 2 and policy._coordinator_client is None
    policy.before_controller_abort()


def test_a_joined_cluster_keeps_the_cleaner_and_the_autoscaler_requests(tmp_path):
    callbacks, policy = controller_kwargs(False, tmp_path)
    assert "DatasetsCallback" not in callbacks and "PlacementGroupCleanerCallback" in callbacks
    assert type(policy) is FixedScalingPolicy


def test_stock_ray_train_on_request_and_workers_at_niceness_0(monkeypatch):
    assert ray_lean.private_cluster_env() == {"RAY_worker_niceness": "0"}
    monkeypatch.setenv(ray_lean.STOCK_ENV, "1")
    assert ray_lean.trainer_class(True) is TorchTrainer and ray_lean.private_cluster_env() == {}

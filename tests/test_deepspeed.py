"""DeepSpeed ZeRO 1, 2 and 3 under Ray Train on CPU (gloo): 2 workers train with falling loss, every
rank takes part in the save, and a second run continues from the checkpoint (the optimizer state gathered
whole from both ranks) where the first stopped.

ZeRO-2 runs with its optimizer offloaded to the CPU (the GPU recipe's memory saver), so its optimizer is
DeepSpeed's CPU Adam (a C++ op JIT-built once per environment, tests/fixtures/jit_ops.py). One run covers
both: stage 2's partitioned gradients and the offloaded step, its moments gathered for the save, and the
resume. The torch optimizer under ZeRO runs at stages 1 and 3.
"""

from __future__ import annotations

import json

import pytest
import torch
from fixtures.ray_runs import run_on_ray, train_rows

from graphmer_dist.config_loader import load_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("inductor_cache")]

BASE = ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
        "checkpoint.every_steps=3", "parallel.strategy=deepspeed", "parallel.num_workers=2",
        "train.global_batch_size=8", "train.lr=3e-3", "train.warmup_steps=1", "model.dropout=0",
        "model.hgat_dropout=0"]
STAGES = {1: [], 2: ["parallel.offload_optimizer=true"], 3: []}
"""ZeRO stage → its other overrides."""


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_zero_stage_trains_saves_and_resumes(ray_cluster, tiny_dataset, tmp_path, stage, monkeypatch):
    overrides = [*BASE, f"parallel.zero_stage={stage}", *STAGES[stage]]
    if "parallel.offload_optimizer=true" in overrides:
        assert_offload_steps_with_cpu_adam(overrides, monkeypatch)
    run_dir = tmp_path / f"zero{stage}"
    assert run_on_ray(tiny_dataset, run_dir, [*overrides, "train.steps=6"]) == 0
    losses = [row["loss"] for row in train_rows(run_dir)]
    assert len(losses) == 6 and sum(losses[-2:]) < sum(losses[:2]), losses
    step6 = run_dir / "checkpoints" / "step-0000006"
    manifest = json.loads((step6 / "manifest.json").read_text())
    assert "deepspeed_optimizer.pt" in manifest["files"]  # the moments, gathered whole from both ranks
    portable = torch.load(step6 / "model.pt", weights_only=True)
    assert all(t.numel() > 0 for t in portable.values())  # gathered whole even under ZeRO-3

    # Continue the same run folder to step 7: a new Ray run resumes from step 6's DeepSpeed state.
    assert run_on_ray(tiny_dataset, run_dir, [*overrides, "train.steps=7"]) == 0
    assert [row["step"] for row in train_rows(run_dir)][6:] == [7]
    assert (run_dir / "checkpoints" / "step-0000007" / "manifest.json").is_file()


def assert_offload_steps_with_cpu_adam(overrides: list[str], monkeypatch) -> None:
    """The strategy's optimizer for this config is DeepSpeed's CPU Adam (built here first, so the workers
    find it built)."""
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # deepspeed sets it on import; undone after
    from deepspeed.ops.adam import DeepSpeedCPUAdam

    from graphmer_dist.model import GraphMERForPretraining
    from graphmer_dist.train.deepspeed_strategy import _optimizer
    config = load_config("tiny", overrides)
    assert isinstance(_optimizer(GraphMERForPretraining(config.model), config), DeepSpeedCPUAdam)

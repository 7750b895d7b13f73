"""A DeepSpeed ZeRO run moves between machines of different sizes: a 2-worker run's step-2 checkpoint continued
by 1 worker in a new run folder (Kaggle 2×T4 → Colab 1×T4), and (ZeRO-3) that run's step-4 checkpoint
continued by 2 workers again. The checkpoint holds the optimizer state whole (deepspeed_strategy.py), so each
worker takes its partition of it; accumulation keeps the global batch, the sampler the sample order. ZeRO-2
stands for ZeRO-1 too (one DeepSpeed optimizer class, the same save and load path; ZeRO-1 measured the same).

Tolerance: with dropout off the moved run sees the same samples in the same micro-batches, so only float
rounding differs (ZeRO's reduction of two ranks' gradients vs. one rank's accumulation). Measured here (CPU,
gloo, fp32, tiny config, lr 3e-3, every step after the move up to step 6): ZeRO-2 2 → 1 max loss difference
4.8e-7, max final weight difference 6.0e-8 (ZeRO-1 the same, resuming at step 3); ZeRO-3 2 → 1 and 1 → 2
both 0 (bit-identical). Asserted within 1e-4 (NCCL may sum in another order).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fixtures.ray_runs import run_on_ray
from test_resume_world_size import BASE, TOLERANCE, losses, max_weight_difference

from graphmer_dist.checkpoint.layout import save_tensors
from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import CheckpointError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("inductor_cache")]
OPTIMIZER_FILE = "deepspeed_optimizer.pt"


def on_ray(dataset: Path, run_dir: Path, workers: int, stage: int, *overrides: str) -> int:
    return run_on_ray(dataset, run_dir, [*BASE, "parallel.strategy=deepspeed", f"parallel.num_workers={workers}",
                                         f"parallel.zero_stage={stage}", "checkpoint.every_steps=2",
                                         "train.eval_queries=0", *overrides])


@pytest.mark.parametrize("stage, moves", [(2, [1]), (3, [1, 2])], ids=["zero2-2to1", "zero3-2to1to2"])
def test_zero_run_moves_between_worker_counts(ray_cluster, tiny_dataset, tmp_path, capsys, stage, moves):
    """Each move is a new run folder resuming the previous run's checkpoint 2 steps further on."""
    reference = tmp_path / "two-workers"
    assert on_ray(tiny_dataset, reference, 2, stage) == 0
    expected, previous, before = losses(reference), reference, 2
    for move, workers in enumerate(moves, 1):
        moved, resume_at = tmp_path / f"move-{move}-to-{workers}", 2 * move
        checkpoint = previous / "checkpoints" / f"step-{resume_at:07d}"
        assert on_ray(tiny_dataset, moved, workers, stage, f"checkpoint.resume={checkpoint}") == 0
        out = capsys.readouterr().out
        accumulation = f"accumulation steps {2 // before} → {2 // workers}"  # global batch 8 = 4 × 2 micro-batches
        assert f"at step {resume_at}" in out and f"workers {before} → {workers}" in out and accumulation in out, out

        got = losses(moved)
        assert sorted(got) == list(range(resume_at + 1, 7))
        loss_difference = max(abs(got[s] - expected[s]) for s in got)
        weight_difference = max_weight_difference(moved, reference, 6)
        assert loss_difference <= TOLERANCE and weight_difference <= TOLERANCE, (moved.name, got, expected)
        step6 = moved / "checkpoints" / "step-0000006"
        assert json.loads((step6 / "manifest.json").read_text())["world_size"] == workers
        assert torch.load(step6 / OPTIMIZER_FILE, weights_only=True)["step"] == 6
        previous, before = moved, workers


def test_a_checkpoint_without_the_whole_optimizer_state_is_refused(tmp_path):
    from graphmer_dist.model import GraphMERForPretraining
    from graphmer_dist.train.deepspeed_strategy import read_whole_state
    model = GraphMERForPretraining(load_config("tiny").model)
    moments = {name: torch.zeros_like(param) for name, param in model.named_parameters()}
    path = tmp_path / OPTIMIZER_FILE  # the layout the Ray runs above save and resume
    save_tensors({"step": 3, "exp_avg": moments, "exp_avg_sq": dict(moments), "scheduler": {}, "loss_scaler": {}}, path)
    assert read_whole_state(path, model)["step"] == 3

    name = next(iter(moments))
    moments[name] = moments[name][:1]  # another model's shape
    save_tensors({"step": 3, "exp_avg": moments, "exp_avg_sq": moments, "scheduler": {}, "loss_scaler": {}}, path)
    with pytest.raises(CheckpointError, match=f"{OPTIMIZER_FILE} does not hold this model's") as wrong:
        read_whole_state(path, model)
    assert "--resume never" in str(wrong.value)

    path.unlink()  # e.g. written by an older version, with DeepSpeed's per-rank files
    with pytest.raises(CheckpointError, match=f"{OPTIMIZER_FILE} is missing") as missing:
        read_whole_state(path, model)
    assert "--resume never" in str(missing.value) and "\n" not in str(missing.value)


def test_the_fp16_loss_scale_survives_a_resume_and_nothing_else_is_set():
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler

    from graphmer_dist.train.deepspeed_strategy import plain_numbers, restore_numbers

    def scaler():
        return DynamicLossScaler(init_scale=2**16, scale_window=1000, min_scale=1, delayed_shift=2,
                                 consecutive_hysteresis=False)
    trained = scaler()
    trained.cur_scale, trained.cur_iter, trained.last_overflow_iter, trained.cur_hysteresis = 8192.0, 40, 37, 1
    saved = plain_numbers(trained)
    saved.update({"update_scale": 1, "min_scale": "a string"})  # a hostile file: a method name, another type
    fresh = scaler()
    restore_numbers(fresh, saved)
    assert (fresh.cur_scale, fresh.cur_iter, fresh.last_overflow_iter, fresh.cur_hysteresis) == (8192.0, 40, 37, 1)
    assert callable(fresh.update_scale) and fresh.min_scale == 1

"""The loop's parts on their own: parameter groups, the schedule, the time budget, precision choice,
the generated DeepSpeed config, and that importing the training package pulls in neither torch nor ray."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest
import torch

from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import ConfigError
from graphmer_dist.train.optim import build_optimizer, lr_factor, parameter_groups
from graphmer_dist.train.precision import build_precision
from graphmer_dist.train.preemption import EXIT_PREEMPTED, TimeBudget


@pytest.fixture(autouse=True)
def _inductor_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # torch sets it on first use


def test_no_weight_decay_on_biases_and_layer_norms():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2))
    decay, no_decay = parameter_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[2].weight)}
    assert len(no_decay["params"]) == 4  # two biases, LayerNorm weight and bias


def test_optimizer_takes_betas_and_eps_from_config():
    train = load_config("tiny", ["train.adam_beta2=0.95", "train.adam_eps=1e-6"]).train
    optimizer = build_optimizer(torch.nn.Linear(2, 2), train)
    assert optimizer.defaults["betas"] == (train.adam_beta1, 0.95) and optimizer.defaults["eps"] == 1e-6


def test_schedule_warms_up_linearly_then_decays_by_cosine_to_min_lr():
    train = load_config("tiny", ["train.steps=100", "train.warmup_steps=10", "train.lr=1e-3",
                                 "train.min_lr=1e-5"]).train
    lrs = [train.lr * lr_factor(step, train) for step in range(train.steps)]
    assert lrs[:10] == pytest.approx([1e-3 * (i + 1) / 10 for i in range(10)])
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[55] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert train.lr * lr_factor(train.steps, train) == pytest.approx(1e-5)


def test_time_budget_keeps_room_for_a_step_and_a_checkpoint():
    budget = TimeBudget(limit_s=100.0)
    budget.record_step(10.0)
    budget.record_checkpoint(20.0)
    assert budget.reserve_s() == pytest.approx(45.0)  # 1.5 × (10 + 20)
    budget.started_at = time.monotonic() - 50.0  # as if 50 s had passed
    assert not budget.exhausted()  # 50 s left > 45 s reserve
    budget.started_at -= 10.0
    assert budget.exhausted()  # 40 s left < 45 s reserve
    assert not TimeBudget(None).exhausted()


def test_deepspeed_config_follows_our_config():
    from graphmer_dist.train.deepspeed_strategy import deepspeed_config
    config = load_config("tiny", ["parallel.strategy=deepspeed", "parallel.zero_stage=3", "parallel.num_workers=2",
                                  "parallel.offload_optimizer=true", "train.micro_batch_size=2",
                                  "train.global_batch_size=8", "train.grad_clip=0.5"])
    ds = deepspeed_config(config, "bf16")
    assert ds["train_micro_batch_size_per_gpu"] == 2 and ds["gradient_accumulation_steps"] == 2
    assert ds["train_batch_size"] == 8 and ds["gradient_clipping"] == 0.5
    assert ds["zero_optimization"] == {"stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": False}}
    assert ds["bf16"]["enabled"] and not ds["fp16"]["enabled"]


def test_exit_preempted_is_75_and_the_package_imports_light():
    assert EXIT_PREEMPTED == 75
    code = ("import sys, graphmer_dist.train as t; assert t.EXIT_PREEMPTED == 75; "
            "assert 'torch' not in sys.modules and 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_accumulating_two_micro_batches_equals_one_batch_of_both():
    """Mean loss per micro-batch, divided by the accumulation steps, then clipped: with equal-sized
    micro-batches that is exactly the gradient and the step of the whole batch."""
    from graphmer_dist.train.distributed import TorchStrategy, WorldInfo
    torch.manual_seed(0)
    inputs, targets = torch.randn(4, 3), torch.randn(4, 1)
    results = []
    for micro in (2, 4):
        config = load_config("tiny", [f"train.micro_batch_size={micro}", "train.global_batch_size=4",
                                      "train.grad_clip=0.1"])
        torch.manual_seed(1)
        strategy = TorchStrategy(torch.nn.Linear(3, 1), config, build_precision("fp32", torch.device("cpu")),
                                 WorldInfo(0, 1))
        for start in range(0, 4, micro):
            loss = torch.nn.functional.mse_loss(strategy.model(inputs[start:start + micro]), targets[start:start + micro])
            strategy.backward(loss)
        grad = strategy.raw_model.weight.grad.clone()
        norm = strategy.step()
        results.append((grad, norm, strategy.raw_model.weight.detach().clone()))
    (grad_a, norm_a, weight_a), (grad_b, norm_b, weight_b) = results
    torch.testing.assert_close(grad_a, grad_b)
    assert norm_a == pytest.approx(norm_b) and norm_a > 0.1  # the clip was active
    torch.testing.assert_close(weight_a, weight_b)

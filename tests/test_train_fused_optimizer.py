"""The 'single'/'ddp' strategy steps with fused AdamW: same maths as the per-tensor kernel, and a run
resumed from a checkpoint written by the per-tensor kernel stays fused (torch would copy the flag)."""

from __future__ import annotations

import torch

from graphmer_dist.config_loader import load_config
from graphmer_dist.train.distributed import TorchStrategy, WorldInfo
from graphmer_dist.train.optim import build_optimizer
from graphmer_dist.train.precision import build_precision


def _strategy(model: torch.nn.Module) -> TorchStrategy:
    config = load_config("tiny", ["parallel.strategy=single", "train.lr=1e-2", "train.warmup_steps=0"])
    return TorchStrategy(model, config, build_precision("fp32", torch.device("cpu")), WorldInfo(0, 1))


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.LayerNorm(16), torch.nn.Linear(16, 3))


def _per_tensor(strategy: TorchStrategy) -> TorchStrategy:
    """The same strategy stepping with torch's per-tensor (foreach) AdamW, as before the change."""
    config = load_config("tiny", ["train.lr=1e-2", "train.warmup_steps=0"])
    schedule = strategy.scheduler.lr_lambdas[0]
    strategy.optimizer = build_optimizer(strategy.raw_model, config.train, fused=False)
    strategy.scheduler = torch.optim.lr_scheduler.LambdaLR(strategy.optimizer, schedule)
    assert not any(group["fused"] for group in strategy.optimizer.param_groups)
    return strategy


def _train(strategy: TorchStrategy, steps: int) -> None:
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        inputs = torch.randn(8, 6, generator=generator)
        strategy.backward(strategy.model(inputs).pow(2).mean())
        strategy.step()


def test_cpu_strategy_uses_the_fused_kernel_and_matches_the_per_tensor_one():
    fused = _strategy(_model())
    assert all(group["fused"] for group in fused.optimizer.param_groups)
    reference = _per_tensor(_strategy(_model()))
    _train(fused, 5)
    _train(reference, 5)
    for a, b in zip(fused.raw_model.parameters(), reference.raw_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.equal(fused.raw_model[0].weight, _model()[0].weight)  # it did train


def test_resuming_a_per_tensor_checkpoint_keeps_the_fused_kernel_and_the_moments():
    old = _per_tensor(_strategy(_model()))
    _train(old, 3)
    saved = old.state_dict()

    resumed = _strategy(_model())
    resumed.raw_model.load_state_dict(old.portable_state_dict())
    resumed.load_state_dict(saved)
    assert all(group["fused"] for group in resumed.optimizer.param_groups)
    first = next(iter(old.raw_model.parameters()))
    moments = resumed.optimizer.state[next(iter(resumed.raw_model.parameters()))]
    torch.testing.assert_close(moments["exp_avg"], old.optimizer.state[first]["exp_avg"])
    assert float(moments["step"]) == 3.0
    _train(resumed, 1)  # the fused kernel accepts the loaded state
    assert float(moments["step"]) == 4.0

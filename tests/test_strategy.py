"""Every registered strategy honours the `Strategy` interface the trainer relies on: it trains, saves its
part of a checkpoint, and a fresh instance restored from it continues exactly where the first one is.

Each strategy runs in this process in a 1-rank gloo group (DeepSpeed included), on the tiny dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from fixtures.jit_ops import TORCH_EXTENSIONS_DIR

from graphmer_dist.checkpoint.layout import MODEL, save_tensors
from graphmer_dist.config_loader import apply_overrides, load_config, parse_overrides
from graphmer_dist.train.step import optimizer_step
from graphmer_dist.train.strategy import Strategy, strategy_names

pytestmark = pytest.mark.slow
BASE = ["model.attention=eager", "train.precision=fp32", "train.num_threads=1", "train.global_batch_size=4",
        "train.lr=3e-3", "train.warmup_steps=1", "model.dropout=0", "model.hgat_dropout=0"]
LAYOUT = {"single": [], "ddp": ["parallel.strategy=ddp"],
          "deepspeed": ["parallel.strategy=deepspeed", "parallel.zero_stage=3"]}
"""DeepSpeed at ZeRO-3, the stage whose parameters are partitioned too: its restore is bit-exact here."""


def test_the_registry_names_every_strategy():
    assert strategy_names() == ("ddp", "deepspeed", "single")


@pytest.fixture
def one_rank_group(monkeypatch, tmp_path):
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(29500 + os.getpid() % 1000),
                       "TORCH_EXTENSIONS_DIR": TORCH_EXTENSIONS_DIR,
                       "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # deepspeed sets it on import; undone after
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def build(dataset: Path, name: str):
    from graphmer_dist.train.setup import build_context
    config = load_config("tiny", [*BASE, *LAYOUT[name]])
    return build_context({"config": config.to_dict(), "dataset_dir": str(dataset), "run_dir": "unused"})


def train(ctx, steps: int) -> None:
    for _ in range(steps):
        for batch, _count in ctx.train_batches.step_batches():
            with ctx.strategy.sync_context(True):
                ctx.strategy.backward(ctx.strategy.model(**batch)["loss"])
        ctx.strategy.step()


def weights(strategy: Strategy) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in strategy.portable_state_dict().items()}


@pytest.mark.parametrize("name", strategy_names())
def test_strategy_trains_saves_and_restores_exactly(name, tiny_dataset, tmp_path, one_rank_group):
    ctx = build(tiny_dataset, name)
    assert isinstance(ctx.strategy, Strategy)
    assert ctx.strategy.resume_problem(ctx.config.parallel.strategy, 1) == ""
    other = "deepspeed" if name != "deepspeed" else "ddp"
    assert "--strategy" in ctx.strategy.resume_problem(other, 1)
    assert ctx.strategy.resume_problem(ctx.config.parallel.strategy, 2) == ""  # any number of workers
    before = weights(ctx.strategy)
    train(ctx, 2)
    assert ctx.strategy.lr > 0 and any(not torch.equal(before[k], v) for k, v in weights(ctx.strategy).items())

    ctx.strategy.save(tmp_path, rank=0)
    save_tensors(ctx.strategy.portable_state_dict(), tmp_path / MODEL)
    restored = build(tiny_dataset, name)
    with torch.no_grad():  # other weights than the saved ones: everything must come from the files
        for param in restored.strategy.model.parameters():
            param.add_(0.5)
    restored.strategy.load(tmp_path, saved_world_size=1)
    restored.train_batches.load_state_dict(ctx.train_batches.state_dict())
    assert restored.strategy.lr == ctx.strategy.lr
    train(ctx, 1)
    train(restored, 1)
    expected, got = weights(ctx.strategy), weights(restored.strategy)
    assert all(torch.equal(expected[k], got[k]) for k in expected), f"{name}: restored run diverged"
    trains_with_the_sbo_loss_off(ctx)


def trains_with_the_sbo_loss_off(ctx) -> None:
    """train.sbo_weight=0 (cpu-1h) computes the SBO loss without a graph, except under ZeRO-3, whose
    partitioned parameters keep it; every engine passes optimizer_step's count_accuracy=False through to
    the model. (That the SBO head still gets zero gradients, which a DDP group of 2+ ranks needs, is
    tests/test_model_pretraining.py's: a 1-rank DDP does not check for unused parameters.) Part of the
    test above because DeepSpeed caches its process groups: a second test's engine would find them gone."""
    config = apply_overrides(ctx.config, parse_overrides(["train.sbo_weight=0"]))
    ctx.strategy.raw_model.train_config = config.train
    before = weights(ctx.strategy)
    for _ in range(2):
        result = optimizer_step(ctx.strategy, ctx.precision, ctx.train_batches.step_batches(), config)
        assert result.loss_sum > 0 and result.grad_norm > 0
    after = weights(ctx.strategy)
    assert any(not torch.equal(before[k], after[k]) for k in before if not k.startswith("sbo_head."))


"""One optimizer step over a rank's micro-batches: the step the training loop runs and `bench` times.

Also counts what the step did: samples, flat positions, the non-empty nodes among them (what the
unpadded model computes), the supervised (labelled) positions, and the training FLOPs the unpadded
model needs for these batches (graphmer_dist/bench/flops.py) — all for this rank.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import torch

from graphmer_dist.bench.flops import batch_training_flops
from graphmer_dist.config import Config
from graphmer_dist.masking import IGNORE


@dataclass
class StepResult:
    loss_sum: float           # sum over micro-batches of their mean loss
    lr: float                 # the rate this step used, before the schedule advanced
    grad_norm: float
    samples: int
    tokens: int               # flat positions, B·N per micro-batch
    nonpad_tokens: int        # non-empty nodes
    supervised_tokens: int    # labelled positions (masked roots and leaves)
    flops: float              # training FLOPs the unpadded model needs for these batches
    data_wait_s: float        # time spent waiting for micro-batches


def optimizer_step(strategy, precision, micro_batches: Iterator[tuple[dict[str, torch.Tensor], int]],
                   config: Config) -> StepResult:
    """Forward + backward of config.grad_accum_steps micro-batches, then the strategy's step."""
    wait, loss_sum, samples, tokens, nonpad, supervised, flops = 0.0, 0.0, 0, 0, 0, 0, 0.0
    accum = config.grad_accum_steps
    for micro in range(accum):
        fetched = time.perf_counter()
        batch, count = next(micro_batches)
        # Counted on the host copy, before the transfer: no device sync.
        samples, tokens = samples + count, tokens + batch["input_ids"].numel()
        nonpad += int(batch["attention_mask"].sum())
        supervised += int((batch["labels"] != IGNORE).sum())
        flops += batch_training_flops(config.model, batch)
        batch = {k: v.to(precision.device) for k, v in batch.items()}
        wait += time.perf_counter() - fetched
        with strategy.sync_context(micro == accum - 1):
            with precision.autocast():
                loss = strategy.model(**batch, count_accuracy=False)["loss"]
            strategy.backward(loss)
        loss_sum += float(loss.detach())
    lr = strategy.lr
    grad_norm = strategy.step()
    return StepResult(loss_sum, lr, grad_norm, samples, tokens, nonpad, supervised, flops, wait)

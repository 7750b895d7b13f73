"""AdamW without weight decay on biases and LayerNorm, and a cosine schedule with linear warm-up."""

from __future__ import annotations

import math

import torch

from graphmer_dist.config import TrainConfig


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: matrices (decayed) and biases/LayerNorm/1-d parameters (not decayed).

    Decaying a LayerNorm gain or a bias pulls it towards 0, which is not regularisation but damage;
    1-d parameters are exactly those (the per-head decay offsets `p` included).
    """
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or name.endswith(".bias") else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, train: TrainConfig, fused: bool = False) -> torch.optim.AdamW:
    """`fused=True`: one kernel over all parameters (CPU and CUDA) instead of per-tensor loops."""
    return torch.optim.AdamW(parameter_groups(model, train.weight_decay), lr=train.lr,
                             betas=(train.adam_beta1, train.adam_beta2), eps=train.adam_eps,
                             fused=fused or None)


def lr_factor(step: int, train: TrainConfig) -> float:
    """Multiplier of train.lr at optimizer step `step` (0-based): warm-up, then cosine to min_lr."""
    if train.warmup_steps and step < train.warmup_steps:
        return (step + 1) / train.warmup_steps
    decay_steps = max(1, train.steps - train.warmup_steps)
    progress = min(1.0, (step - train.warmup_steps) / decay_steps)
    floor = train.min_lr / train.lr
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, train: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, train))

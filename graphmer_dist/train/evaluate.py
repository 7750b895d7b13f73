"""Validation: loss, MLM accuracy on masked roots and MNM accuracy on masked leaves.

Counts are summed over every rank and batch before dividing, so the numbers are per masked token over
the whole validation slice (a batch with 2 masked tokens cannot produce a "100%" headline), and they do
not depend on how many workers shared the slice.
"""

from __future__ import annotations

import torch

from graphmer_dist.train.batches import ShardRows, eval_batches
from graphmer_dist.train.distributed import WorldInfo, all_reduce_sum


@torch.no_grad()
def evaluate(model: torch.nn.Module, rows: ShardRows, collator, autocast, device: torch.device,
             micro_batch_size: int, max_batches: int, seed: int, world: WorldInfo) -> dict[str, float]:
    was_training = model.training
    model.eval()
    loss_sum, batches, root_ok, root_n, leaf_ok, leaf_n = 0.0, 0, 0, 0, 0, 0
    for batch in eval_batches(rows, collator, micro_batch_size, max_batches, seed, world.rank, world.world_size):
        with autocast():
            out = model(**{k: v.to(device) for k, v in batch.items()})
        loss_sum += float(out["loss"])
        batches += 1
        root_ok += int(out["root_correct"])
        root_n += int(out["root_count"])
        leaf_ok += int(out["leaf_correct"])
        leaf_n += int(out["leaf_count"])
    model.train(was_training)
    loss_sum, batches, root_ok, root_n, leaf_ok, leaf_n = all_reduce_sum(
        [loss_sum, batches, root_ok, root_n, leaf_ok, leaf_n], device, world)
    return {"val_loss": loss_sum / max(batches, 1), "mlm_acc": root_ok / max(root_n, 1),
            "mnm_acc": leaf_ok / max(leaf_n, 1), "val_masked_roots": int(root_n), "val_masked_leaves": int(leaf_n)}

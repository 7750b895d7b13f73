"""Validation: loss, MLM accuracy on masked roots and MNM accuracy on masked leaves; and whole-tail
link prediction on a fixed sample of val_lp queries beside its count baseline, the number that shows
whether the model learned more than counting.

Counts are summed over every rank and batch before dividing, so the numbers are per masked token over
the whole validation slice (a batch with 2 masked tokens cannot produce a "100%" headline), and they do
not depend on how many workers shared the slice. Link prediction runs on rank 0 only (there is none
under ZeRO-3, whose parameter gathers would need every rank), and its task — the query sample and the
fact index over every triple, ~15 s for cpu-small's million facts — is built at the first validation,
not before the first step: a run shorter than one validation interval never pays for it, and the other
ranks never do.
"""

from __future__ import annotations

import time

import torch

from graphmer_dist.config import Config
from graphmer_dist.data import Dataset
from graphmer_dist.errors import DataError
from graphmer_dist.eval.link_prediction import LinkPredictionTask, link_prediction_task
from graphmer_dist.eval.ranking import ratio

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


class LinkValidation:
    """The fixed val_lp sample (its first train.eval_queries queries, a uniform sample by the split's
    hash order), built on first use; `task()` is None, with one line saying why, when there is none."""

    def __init__(self, dataset: Dataset, config: Config, log=print) -> None:
        self.dataset, self.config, self.log = dataset, config, log
        self.built = False
        self._task: LinkPredictionTask | None = None

    def task(self) -> LinkPredictionTask | None:
        if not self.built:
            self.built = True
            try:
                self._task = link_prediction_task(self.dataset, "val", self.config.model,
                                                  self.config.train.eval_queries)
            except DataError as exc:
                self.log(f"no link-prediction validation: {exc}")
        return self._task


def link_validation_task(dataset: Dataset, config: Config, log=print) -> LinkValidation | None:
    """Rank 0's link validation (not built yet), or None with a line saying why not, when the config
    says there is none."""
    if config.train.eval_queries == 0:
        return None
    if config.parallel.zero_stage == 3:
        log("no link-prediction validation under ZeRO-3 (parameters are partitioned across ranks); "
            "score checkpoints with `graphmer-launch eval`")
        return None
    return LinkValidation(dataset, config, log)


def link_validation(task: LinkPredictionTask, model: torch.nn.Module, device: torch.device, autocast,
                    batch_size: int) -> dict[str, float | int | None]:
    started = time.perf_counter()
    result = task.evaluate(model, device, autocast(), batch_size)
    return {"val_tail_mrr": result["tail_mrr"], "val_tail_mrr_baseline": result["baseline"]["tail_mrr"],
            "val_tail_hits_at_10": result["tail_hits_at_10"], "val_link_queries": result["num_queries"],
            "val_link_s": round(time.perf_counter() - started, 2)}


def link_summary(row: dict) -> str | None:
    """The line a run ends with: its validation MRR beside the baseline, or None without one."""
    if row.get("val_tail_mrr") is None:
        return None
    times = ratio(row["val_tail_mrr"], row["val_tail_mrr_baseline"])
    return (f"validation tail MRR {row['val_tail_mrr']:.4f} vs most-frequent-tail baseline "
            f"{row['val_tail_mrr_baseline']:.4f} ({'–' if times is None else f'{times:.2f}×'}) on "
            f"{row['val_link_queries']} val_lp queries")

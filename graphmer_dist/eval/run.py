"""`evaluate_checkpoint`: everything `graphmer-launch eval` reports, as one JSON-ready dict."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import torch

from graphmer_dist.data import Dataset, open_dataset
from graphmer_dist.errors import ConfigError, DataError
from graphmer_dist.eval.accuracy import masked_accuracy, unigram_token
from graphmer_dist.eval.checkpoint import LoadedCheckpoint, load_checkpoint
from graphmer_dist.eval.link_prediction import link_prediction_task
from graphmer_dist.eval.ranking import ratio
from graphmer_dist.masking import MaskingCollator

# Without --max-sequences, MLM/MNM accuracy stops after the batch that reaches this many masked roots:
# the MLM number's standard error is then < 0.5 points, at a fraction of the split's forward passes.
ENOUGH_MASKED_ROOTS = 12_000
from graphmer_dist.precision_rule import choose_precision, device_caps


def evaluate_checkpoint(checkpoint: str, dataset_dir: str | None = None, split: str = "test",
                        device: str = "cpu", precision: str = "fp32", batch_size: int = 32,
                        max_queries: int | None = None, max_sequences: int | None = None,
                        endpoint: str | None = None) -> dict:
    started = time.perf_counter()
    for name, value in (("--max-queries", max_queries), ("--max-sequences", max_sequences)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} {value} leaves nothing to evaluate; give a positive number, or leave "
                              f"{name} out to evaluate the whole split")
    torch_device = torch.device(device)
    precision = choose_precision(precision, device_caps(torch_device), key="--precision")  # the one rule
    loaded = load_checkpoint(checkpoint, torch_device, endpoint)
    dataset = checkpoint_dataset(loaded, dataset_dir)
    autocast = _autocast(torch_device, precision)
    task = link_prediction_task(dataset, split, loaded.config.model, max_queries)
    links = task.evaluate(loaded.model, torch_device, autocast, batch_size)
    collator = MaskingCollator(loaded.config.model, loaded.config.train, dataset.vocab_flags())
    accuracy = masked_accuracy(loaded.model, dataset, split, collator, torch_device, autocast,
                               batch_size, max_sequences, baseline_token=unigram_token(dataset),
                               enough_roots=ENOUGH_MASKED_ROOTS)
    links["baseline"]["mlm_accuracy"] = accuracy.pop("mlm_baseline_accuracy")
    links["mlm_accuracy_vs_baseline"] = ratio(accuracy["mlm_accuracy"], links["baseline"]["mlm_accuracy"])
    return {**links, **accuracy, "split": split, "link_prediction_split": task.split, "accuracy_split": split,
            "checkpoint": str(loaded.path), "dataset": str(dataset.path),
            "step": loaded.manifest.get("step"), "precision": precision,
            "eval_seconds": round(time.perf_counter() - started, 2)}


def checkpoint_dataset(loaded: LoadedCheckpoint, dataset_dir: str | None) -> Dataset:
    """The dataset given, else the run's own: the content-addressed build of the checkpoint's
    config and corpus (reused from the cache; rebuilt identically if it was deleted). Either way it
    must use the checkpoint's tokenizer."""
    folder = dataset_dir
    if not folder:
        from graphmer_dist.data import build_or_reuse

        folder, _ = build_or_reuse(loaded.config, log=lambda line: print(line, file=sys.stderr))
    dataset = open_dataset(folder)
    dataset.check_compatible(loaded.config.model)
    saved = loaded.path / "tokenizer.json"
    if saved.is_file() and saved.read_bytes() != Path(dataset.tokenizer_path).read_bytes():
        raise DataError(f"dataset {dataset.path} was tokenized with a different tokenizer than checkpoint "
                        f"{loaded.path} was trained with, so token ids mean different things; evaluate on "
                        "the dataset the run used (its tokenizer.json is identical to the checkpoint's)")
    return dataset


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)

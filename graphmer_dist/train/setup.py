"""Everything a Trainer needs, built from a job dict: world, device, precision, model, data, strategy."""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from graphmer_dist.config import Config
from graphmer_dist.config_loader import config_from_dict
from graphmer_dist.train.batches import ShardRows, TrainBatches
from graphmer_dist.train.distributed import WorldInfo, init_world
from graphmer_dist.train.strategy import Strategy, build_strategy
from graphmer_dist.train.precision import Precision, build_precision, resolve_device


@dataclass
class TrainContext:
    config: Config
    world: WorldInfo
    precision: Precision
    strategy: Strategy
    train_batches: TrainBatches
    val_rows: ShardRows | None
    collator: object
    dataset_dir: str
    run_dir: str
    link_task: object | None = None
    """Rank 0's val_lp link validation (train/evaluate.py `LinkValidation`, built at its first use); None
    on the other ranks and when there is none."""


def configure_threads(num_threads: int) -> None:
    # Under Ray each worker gets OMP_NUM_THREADS=1 from its CPU reservation; an explicit setting wins.
    if num_threads > 0:
        torch.set_num_threads(num_threads)


def build_context(job: dict) -> TrainContext:
    from graphmer_dist.data import open_dataset
    from graphmer_dist.masking import MaskingCollator
    from graphmer_dist.model import GraphMERForPretraining
    from graphmer_dist.train.evaluate import link_validation_task
    from graphmer_dist.train.sampler import ShardedSampler

    config = config_from_dict(job["config"])
    configure_threads(config.train.num_threads)
    device = resolve_device(config.train.device)
    world = init_world(config.parallel.strategy, device)
    precision = build_precision(config.train.precision, device,
                                use_scaler=config.parallel.strategy != "deepspeed")
    dataset = open_dataset(job["dataset_dir"])
    dataset.check_compatible(config.model)
    collator = MaskingCollator.for_dataset(config.model, config.train, dataset)
    torch.manual_seed(config.train.seed)  # identical initial weights on every rank
    model = GraphMERForPretraining(config.model, config.train)
    torch.manual_seed(config.train.seed + 1 + world.rank)  # per-rank dropout streams
    strategy = build_strategy(model, config, precision, world)
    rows = ShardRows(dataset, "train")
    sampler = ShardedSampler(rows.sizes, config.train.seed, config.train.global_batch_size,
                             rank=world.rank, world_size=world.world_size)
    batches = TrainBatches(rows, sampler, collator, config.train.micro_batch_size, config.train.seed,
                           prefetch=config.train.dataloader_workers)
    val_rows = ShardRows(dataset, "val") if sum(dataset.shard_sizes("val")) else None
    link_task = link_validation_task(dataset, config) if world.is_main else None
    return TrainContext(config, world, precision, strategy, batches, val_rows, collator,
                        job["dataset_dir"], job["run_dir"], link_task)


def write_run_files(run_dir: str, config: Config, plan: dict | None) -> None:
    """config.json and plan.json at the top of the run folder (local or S3)."""
    from graphmer_dist.storage import open_storage
    storage = open_storage(run_dir, config.checkpoint.s3_endpoint or None)
    storage.write_bytes("config.json", config.to_json().encode())
    if plan is not None:
        storage.write_bytes("plan.json", json.dumps(plan, indent=2, sort_keys=True).encode())

"""A run moves between machines of different sizes: a 2-worker DDP run (Ray) continued by a single process
(the Kaggle 2×T4 → laptop / Colab 1×T4 case), and a single-process run continued by 2 DDP workers. Same
global batch (accumulation makes up the workers), same sample order; the resume says what changed.

Tolerance: with dropout off, a 2-worker step and a 1-worker step over 2 accumulated micro-batches see the
same samples in the same micro-batches and average the same two gradients, so they can differ only by
float rounding (DDP's all-reduce vs. accumulation in .grad). Measured here (CPU, gloo, fp32): 0 — losses
and final weights bit-identical in both directions. Asserted within 1e-4, since another backend (NCCL)
may sum in another order. With dropout on, the moved ranks draw other dropout masks: close, not equal.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixtures.ray_runs import checkpoint_weights, run_on_ray

from graphmer_dist.config_loader import load_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("inductor_cache")]

BASE = ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
        "train.steps=6", "checkpoint.every_steps=3", "train.global_batch_size=8", "train.micro_batch_size=4",
        "model.dropout=0", "model.hgat_dropout=0", "train.lr=3e-3", "train.warmup_steps=1"]
TWO_WORKERS = ["parallel.strategy=ddp", "parallel.num_workers=2"]
ONE_PROCESS = ["parallel.strategy=single", "parallel.num_workers=1", "train.num_threads=1"]
TOLERANCE = 1e-4


def on_ray(dataset: Path, run_dir: Path) -> int:
    return run_on_ray(dataset, run_dir, [*BASE, *TWO_WORKERS])


def in_process(dataset: Path, run_dir: Path, *overrides: str) -> int:
    from graphmer_dist.train.loop import train_loop_per_worker
    config = load_config("tiny", [*BASE, *ONE_PROCESS, *overrides])
    return train_loop_per_worker({"config": config.to_dict(), "dataset_dir": str(dataset), "run_dir": str(run_dir),
                                  "resume": "auto"})


def losses(run_dir: Path) -> dict[int, float]:
    """step → training loss; a resumed run's rows replace the ones it repeats."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows if "loss" in row and not row.get("eval")}


def max_weight_difference(a: Path, b: Path, step: int) -> float:
    wa, wb = checkpoint_weights(a, step), checkpoint_weights(b, step)
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def test_ddp_run_moves_from_two_workers_to_one_process_and_back(ray_cluster, tiny_dataset, tmp_path, capsys):
    reference = tmp_path / "two-workers"
    assert on_ray(tiny_dataset, reference) == 0

    # 2 → 1: the 2-worker run's step-3 checkpoint, continued by one process accumulating 2 micro-batches.
    moved = tmp_path / "two-then-one"
    shutil.copytree(reference, moved)
    shutil.rmtree(moved / "checkpoints" / "step-0000006")
    assert in_process(tiny_dataset, moved) == 0
    out = capsys.readouterr().out
    assert "at step 3" in out and "workers 2 → 1" in out and "accumulation steps 1 → 2" in out, out
    assert "strategy ddp → single" in out and "same samples per step" in out

    # 1 → 2: a single-process run's step-3 checkpoint, continued by 2 DDP workers under Ray. (Its run is
    # planned for 6 steps too: the learning-rate schedule depends on train.steps.)
    grown = tmp_path / "one-then-two"
    assert in_process(tiny_dataset, grown) == 0
    shutil.rmtree(grown / "checkpoints" / "step-0000006")
    assert on_ray(tiny_dataset, grown) == 0

    expected = losses(reference)
    for run in (moved, grown):
        got = losses(run)
        assert sorted(got) == list(range(1, 7))
        loss_difference = max(abs(got[s] - expected[s]) for s in range(1, 7))
        weight_difference = max_weight_difference(run, reference, 6)
        assert loss_difference <= TOLERANCE and weight_difference <= TOLERANCE, (run.name, got, expected)
        manifest = json.loads((run / "checkpoints" / "step-0000006" / "manifest.json").read_text())
        assert manifest["world_size"] == (1 if run is moved else 2)

"""The plan's memory estimate beside measured peak memory, one fresh process per config.

    python benchmarks/memory_check.py [--configs cpu-small graphmer-se-85m] [--micro-batch 4] [--steps 2]
                                      [--device cpu|cuda] [--dataset DIR] [--json out.json]

Measured = what training adds to the process: on CUDA `max_memory_allocated` (reset after the batches
are loaded); on a CPU the peak RSS growth over the process's baseline, taken after imports and the
real batches are loaded (the peak is reset through /proc/self/clear_refs so earlier peaks don't count).
Estimate = launch/memory_estimate.estimate for the same model, micro-batch, precision and strategy
'single', from the dataset's node counts — what the plan compares with the device's memory. The estimate
sizes the micro-batch that holds the longest training sequence, so the batches trained are the first ones
of the run with that sequence in place of their first. Target: estimate/measured within 0.75–1.25.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = (0.75, 1.25)


def _rss_field(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{name} not in /proc/self/status")


def batches_with_the_longest(config, dataset_dir: str | None, steps: int) -> list:
    """The run's first `steps` micro-batches, each holding the dataset's longest training sequence first
    (masked as training masks it): the batch length the plan sizes memory for."""
    import numpy as np

    from graphmer_dist.data import build_or_reuse, open_dataset
    from graphmer_dist.masking import MaskingCollator
    from graphmer_dist.tokens import PAD_ID
    from graphmer_dist.train.batches import ShardRows, sample_seeds
    from graphmer_dist.train.sampler import ShardedSampler

    dataset = open_dataset(dataset_dir or build_or_reuse(config)[0])
    rows = ShardRows(dataset, "train")
    counts = np.concatenate([(dataset.load_shard("train", i)["input_ids"] != PAD_ID).sum(axis=1)
                             for i in range(len(rows.sizes))])
    sampler = ShardedSampler(rows.sizes, config.train.seed, config.train.micro_batch_size)
    collator = MaskingCollator(config.model, config.train, dataset.vocab_flags())
    out = []
    for _ in range(steps):
        indices = sampler.next_batch().indices.copy()
        indices[0] = int(counts.argmax())
        out.append((collator(rows.gather(indices), sample_seeds(config.train.seed, 0, indices)), len(indices)))
    return out


def measure(config_name: str, micro_batch: int, steps: int, device_name: str, dataset_dir: str | None) -> dict:
    """In this process: train `steps` optimizer steps of one micro-batch each; estimate vs measured."""
    import torch

    from graphmer_dist.config_loader import load_config
    from graphmer_dist.model import GraphMERForPretraining
    from graphmer_dist.train.distributed import WorldInfo
    from graphmer_dist.train.precision import build_precision, resolve_device
    from graphmer_dist.train.step import optimizer_step
    from graphmer_dist.train.strategy import build_strategy
    from launch.data_shape import find_shape
    from launch.memory_estimate import estimate

    config = load_config(config_name, [f"train.micro_batch_size={micro_batch}",
                                       f"train.global_batch_size={micro_batch}", f"train.device={device_name}",
                                       "model.attention=eager",
                                       *([f"data.dataset_dir={dataset_dir}"] if dataset_dir else [])])
    device = resolve_device(config.train.device)
    precision = build_precision(config.train.precision, device)
    batches = batches_with_the_longest(config, dataset_dir, steps)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        baseline = _rss_field("VmRSS")
    model = GraphMERForPretraining(config.model, config.train)
    strategy = build_strategy(model, config, precision, WorldInfo(0, 1))
    strategy.raw_model.train()
    for batch in batches[:steps]:
        optimizer_step(strategy, precision, iter([batch]), config)
    if device.type == "cuda":
        measured, kind = torch.cuda.max_memory_allocated(device) - baseline, "cuda max_memory_allocated"
    else:
        measured, kind = _rss_field("VmHWM") - baseline, "cpu peak RSS growth"
    mem = estimate(config.model, micro_batch=micro_batch, precision=precision.name, strategy="single",
                   zero_stage=0, workers=1, shape=find_shape(config))
    return {"config": config_name, "micro_batch": micro_batch, "precision": precision.name, "device": device.type,
            "estimate_bytes": mem.total_bytes, "estimate": mem.to_dict(), "measured_bytes": measured,
            "measured_kind": kind, "ratio": mem.total_bytes / measured}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="+", default=["cpu-small", "graphmer-se-85m"])
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--dataset", help="a built dataset (default: each config's, built or reused from the cache)")
    p.add_argument("--json", help="write the rows here")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure this config in this process
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.micro_batch, args.steps, args.device, args.dataset)))
        return 0
    rows = []
    for name in args.configs:  # a fresh process each: RSS growth must not include the previous model
        out = subprocess.run([sys.executable, __file__, "--one", name, "--micro-batch", str(args.micro_batch),
                              "--steps", str(args.steps), "--device", args.device,
                              *(["--dataset", args.dataset] if args.dataset else [])],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    mib = 1024**2
    print(f"{'config':18} {'micro':>5} {'prec':5} {'estimate MiB':>12} {'measured MiB':>12} {'est/meas':>8}  within ±25%")
    for r in rows:
        ok = TARGET[0] <= r["ratio"] <= TARGET[1]
        print(f"{r['config']:18} {r['micro_batch']:>5} {r['precision']:5} {r['estimate_bytes'] / mib:>12,.0f} "
              f"{r['measured_bytes'] / mib:>12,.0f} {r['ratio']:>8.2f}  {'yes' if ok else 'NO'} ({r['measured_kind']})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))

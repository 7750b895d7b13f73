"""Fast path vs eager reference, and bf16 vs fp32, at the shipped configs; prints the ratios.

Each variant runs `graphmer-launch bench --json` in its own process, so peak memory (the process's
peak RSS on CPU) and compile caches do not leak from one variant into the next.

    .venv/bin/python benchmarks/compare_attention.py                 # tiny, cpu-small, graphmer-se-85m
    .venv/bin/python benchmarks/compare_attention.py --configs cpu-small --steps 5
    .venv/bin/python benchmarks/compare_attention.py --configs graphmert-base --batch 2 --steps 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

VARIANTS = [("flex", "bf16"), ("eager", "bf16"), ("flex", "fp32"), ("eager", "fp32")]
# The 85M and paper-size models take seconds per step here: fewer steps and sequences.
DEFAULT_BATCH = {"graphmer-se-85m": 4, "graphmert-base": 2}


def run_variant(config: str, attention: str, precision: str, steps: int, warmup: int, batch: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "launch.cli", "bench", "--config", config, "--attention", attention,
                   "--precision", precision, "--steps", str(steps), "--warmup", str(warmup), "--json", str(out)]
        if batch:
            command += ["--set", f"train.micro_batch_size={batch}", "--set", f"train.global_batch_size={batch}"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["tiny", "cpu-small", "graphmer-se-85m"])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, help="sequences per step (default: the config's, smaller for big models)")
    args = p.parse_args()
    for config in args.configs:
        batch = args.batch or DEFAULT_BATCH.get(config)
        steps = args.steps if batch is None else max(2, args.steps // 2)
        results = {v: run_variant(config, *v, steps, args.warmup, batch) for v in VARIANTS}
        print(f"\n{config} (batch {results[VARIANTS[0]]['batch_size']}, N={results[VARIANTS[0]]['seq_len']})")
        print(f"  {'attention':9} {'precision':9} {'tokens/s':>10} {'MFU':>7} {'p50 s':>8} {'peak MiB':>9}")
        for (attention, precision), r in results.items():
            print(f"  {attention:9} {precision:9} {r['tokens_per_s']:>10,.0f} {r['mfu']:>7.1%} "
                  f"{r['step_time_p50_s']:>8.3f} {r['peak_memory_bytes'] / 2**20:>9,.0f}")
        speed = {v: r["tokens_per_s"] for v, r in results.items()}
        print(f"  fast/eager: bf16 {speed['flex', 'bf16'] / speed['eager', 'bf16']:.2f}x, "
              f"fp32 {speed['flex', 'fp32'] / speed['eager', 'fp32']:.2f}x; "
              f"bf16/fp32: fast {speed['flex', 'bf16'] / speed['flex', 'fp32']:.2f}x, "
              f"eager {speed['eager', 'bf16'] / speed['eager', 'fp32']:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

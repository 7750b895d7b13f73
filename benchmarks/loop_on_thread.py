"""Tokens/s of the single-process loop on the main thread vs on a second thread, as Ray Train runs it.

Ray Train calls the training function on a thread of its worker, not the main one. glibc gives such a
thread its own malloc arena (64 MiB heaps, unmapped when a step frees its tensors, faulted in again by
the next step); `MALLOC_ARENA_MAX=1` keeps every thread on the main arena, which is what
launch/ray_lean.py sets for Ray's workers. Each arm is a fresh process running
`benchmarks/single_vs_ray.py`'s single arm; arms alternate (ABBA) and the ratio is per round. Single
rounds move ±15% on a shared 2-core machine: read medians of 8 rounds or more, and the page faults.

Measured 2026-12-06 (2-core AMD EPYC, cpu-small, 2 threads, 8 rounds per pair): second thread 0.92× the
main thread (0.86–1.02×), ~15,500 vs ~13,000 page faults a step; second thread with one arena 1.02×
(0.87–1.14×).

    .venv/bin/python benchmarks/loop_on_thread.py --rounds 8 --arms "second thread"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from benchmarks.single_vs_ray import arm_overrides, summarize  # noqa: E402

CHILD = """
import json, resource, sys, threading
from benchmarks.single_vs_ray import run_arm
config, overrides, run_dir, marks, on_thread = json.loads(sys.argv[1])
out = {}
def go():
    out["marks"] = run_arm(config, overrides, run_dir)
if on_thread:
    worker = threading.Thread(target=go)
    worker.start()
    worker.join()
else:
    go()
out["marks"]["minor_faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
json.dump(out["marks"], open(marks, "w"))
"""

ARMS = {"main thread": (False, {}), "second thread": (True, {}),
        "second thread, one arena": (True, {"MALLOC_ARENA_MAX": "1"})}


def run(arm: str, args) -> tuple[float, float]:
    """(tokens/s, minor page faults per step: noise-free, where tokens/s on a shared machine is not)."""
    on_thread, env = ARMS[arm]
    with tempfile.TemporaryDirectory(prefix="graphmer-loop-on-thread-") as tmp:
        run_dir, marks = f"{tmp}/run", f"{tmp}/marks.json"
        overrides = arm_overrides("single", args.threads, args.steps, "eager", "auto")
        subprocess.run([sys.executable, "-c", CHILD, json.dumps([args.config, overrides, run_dir, marks, on_thread])],
                       check=True, stdout=subprocess.DEVNULL, cwd=HERE, env={**os.environ, **env})
        marks_read = json.loads(Path(marks).read_text())
        return (summarize(Path(run_dir), marks_read, args.skip)["tokens_per_s"],
                marks_read["minor_faults"] / args.steps)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="cpu-small")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--skip", type=int, default=3)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="the main thread always runs")
    args = p.parse_args()
    arms = ["main thread", *(arm for arm in args.arms if arm != "main thread")]
    ratios: dict[str, list[float]] = {arm: [] for arm in arms[1:]}
    for round_index in range(args.rounds):
        order = arms if round_index % 2 == 0 else arms[::-1]
        results = {arm: run(arm, args) for arm in order}
        for arm in ratios:
            ratios[arm].append(results[arm][0] / results["main thread"][0])
        shown = (f"{arm} {results[arm][0]:,.0f} tokens/s, {results[arm][1]:,.0f} page faults/step" for arm in arms)
        print(f"round {round_index + 1}: " + ", ".join(shown), flush=True)
    for arm, values in ratios.items():
        print(f"{arm} / main thread: median {statistics.median(values):.3f}, range {min(values):.3f}–"
              f"{max(values):.3f} over {len(values)} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

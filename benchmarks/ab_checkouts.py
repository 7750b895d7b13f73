"""Time to first step (and tokens/s) of two checkouts, before and after a change, in alternating rounds.

Each arm of benchmarks/single_vs_ray.py runs from its own checkout (the child process imports that
checkout's code: `python -c` puts its folder first on sys.path, and Ray's workers get the driver's path),
with this environment's packages; the checkouts take turns (ABBA), so a drift in the machine's load hits
both alike. Prints every run and the median phase table per checkout and arm.

    git archive main | tar -x -C /tmp/before
    .venv/bin/python benchmarks/ab_checkouts.py --before /tmp/before --rounds 3 --steps 10
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


def run_arm(tree: Path, arm: str, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "benchmarks/single_vs_ray.py", "--arms", arm, "--rounds", "1",
                   "--config", args.config, "--steps", str(args.steps), "--skip", str(args.skip),
                   "--threads", str(args.threads), "--attention", args.attention, "--json", out.name]
        load = os.getloadavg()[0]
        subprocess.run(command, cwd=tree, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(Path(out.name).read_text())["runs"][arm][0]
    result["load_avg_1m"] = (load + os.getloadavg()[0]) / 2
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", required=True, type=Path, help="the other checkout (e.g. main, unpacked)")
    p.add_argument("--after", type=Path, default=HERE, help="default: this checkout")
    p.add_argument("--arms", nargs="+", default=["single", "ddp"], choices=("single", "ddp"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--config", default="cpu-small")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--skip", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--attention", default="eager", choices=("flex", "eager"))
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict]] = {f"{name} {arm}": [] for name in trees for arm in args.arms}
    for round_index in range(args.rounds):
        order = list(trees) if round_index % 2 == 0 else list(trees)[::-1]
        for name in order:
            for arm in args.arms:
                r = run_arm(trees[name], arm, args)
                runs[f"{name} {arm}"].append(r)
                phases = ", ".join(f"{k} {v:.1f}" for k, v in r["phases_s"].items())
                print(f"round {round_index + 1} {name:>6} {arm:>6}: {r['time_to_first_step_s']:6.1f} s to first step "
                      f"({phases}); {r['tokens_per_s']:,.0f} tokens/s; worker nice {r.get('worker_nice', '-')}; "
                      f"load {r['load_avg_1m']:.1f}", flush=True)
    keys = sorted({k for rs in runs.values() for r in rs for k in r["phases_s"]},
                  key=["ray_init", "worker_group_up", "imports_and_build", "first_step"].index)
    print("\nmedians | " + " | ".join(["to first step", *keys, "tokens/s", "load"]))
    table = {}
    for label, rs in runs.items():
        row = {"time_to_first_step_s": statistics.median(r["time_to_first_step_s"] for r in rs),
               **{k: statistics.median(r["phases_s"][k] for r in rs) for k in keys if k in rs[0]["phases_s"]},
               "tokens_per_s": statistics.median(r["tokens_per_s"] for r in rs),
               "load_avg_1m": statistics.median(r["load_avg_1m"] for r in rs)}
        table[label] = row
        cells = [f"{row['time_to_first_step_s']:.1f}", *(f"{row[k]:.1f}" if k in row else "-" for k in keys),
                 f"{row['tokens_per_s']:,.0f}", f"{row['load_avg_1m']:.1f}"]
        print(f"{label} | " + " | ".join(cells))
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "medians": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

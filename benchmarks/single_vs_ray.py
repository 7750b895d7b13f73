"""Steady-state tokens/s of `--strategy single` vs a 1-worker Ray DDP run at equal threads; prints the ratio.

Both arms train the same config on the same (cached) dataset through the real entry points —
`train_loop_per_worker` in-process for 'single', `launch.ray_driver.run_with_ray` for Ray — each in a
fresh process, so thread settings and compile caches cannot leak from one arm into the other.
Per-step times come from metrics.jsonl (log_every=1); the first `--skip` steps (compilation,
allocator warm-up) are left out of the steady state. Evaluation and periodic checkpoints are pushed
past the end of the run so only training steps are timed.

On a shared machine other processes slow whole arms down (2,859 vs 5,621 tokens/s for two identical
single-process runs here at load 5–8 on 2 cores). So the arms run in rounds, alternating which goes
first (ABBA: a drift in load hits both arms alike), each round gives one *paired* ratio (Ray / single,
measured minutes apart), and the verdict comes from the spread of those ratios: "within 5%" only when
the lower quartile of the paired ratios clears 0.95, "slower" only when the upper quartile is below it,
otherwise "no verdict" — the machine was too noisy, run more rounds or on a quieter machine. The p10-step
rate is compared too: contention only ever makes a step slower. The load average is printed.

Time to first step is split into its phases: Ray start-up (`ray.init`), the worker group coming up
(Ray Train's controller, worker processes, torch process group; until rank 0 enters the loop), our
imports and building the run (dataset check, model, DDP wrapper, optimizer; until the first step
starts) and the first step itself.

    .venv/bin/python benchmarks/single_vs_ray.py                      # cpu-small, 1 thread, 40 steps
    .venv/bin/python benchmarks/single_vs_ray.py --threads 2 --steps 60 --rounds 6
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def arm_overrides(strategy: str, threads: int, steps: int, attention: str, precision: str) -> list[str]:
    # No link-prediction validation (its task is built at the first validation, the run's last step).
    out = [f"train.steps={steps}", "train.log_every=1", f"train.eval_every={steps + 1}", "train.eval_queries=0",
           f"checkpoint.every_steps={steps + 1}", f"train.num_threads={threads}",
           f"train.precision={precision}", f"parallel.strategy={strategy}"]
    if attention != "config":
        out.append(f"model.attention={attention}")
    if strategy == "ddp":
        out += ["parallel.num_workers=1", f"parallel.cpus_per_worker={threads}"]
    return out


def run_arm(config_name: str, overrides: list[str], run_dir: str) -> dict:
    """Runs in the child process: train, then return wall-clock marks (the metrics come from the file)."""
    start = time.time()
    from graphmer_dist.config_loader import load_config
    from launch.runner import prepare_dataset

    config = load_config(config_name, overrides)
    dataset_dir = prepare_dataset(config)
    job = {"config": config.to_dict(), "dataset_dir": str(dataset_dir), "run_dir": run_dir,
           "resume": "never", "resume_roots": [], "platform": {"name": "benchmark"}}
    launched = time.time()
    marks = {"start": start, "launched": launched}
    if config.parallel.strategy == "single":
        marks["loop_entered"] = time.time()
        from graphmer_dist.train.loop import train_loop_per_worker
        code = train_loop_per_worker(job)
    else:
        from launch.ray_driver import connect, run_with_ray
        connect(None)
        marks["ray_started"] = time.time()
        code, _ = run_with_ray(job, use_gpu=False, address=None, loop=timed_ray_loop)
        marks.update(json.loads((Path(run_dir) / LOOP_MARK).read_text()))
    return {"exit_code": code, **marks, "end": time.time()}


LOOP_MARK = "loop_entered.json"


def timed_ray_loop(job: dict) -> None:
    """Ray's loop, noting in the run folder when rank 0's worker got to it (before our imports)."""
    entered = time.time()
    from launch.ray_hooks import ray_train_loop
    import ray.train
    if ray.train.get_context().get_world_rank() == 0:  # and the worker's priority (Ray's default is nice 15)
        Path(job["run_dir"], LOOP_MARK).write_text(json.dumps({"loop_entered": entered, "worker_nice": os.nice(0)}))
    ray_train_loop(job)


def summarize(run_dir: Path, marks: dict, skip: int) -> dict:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in rows if not r.get("eval") and "step_s" in r]
    steady = steps[skip:]
    tokens = sum(r["tokens_per_s"] * r["step_s"] for r in steady)
    seconds = sum(r["step_s"] for r in steady)
    first = steps[0]
    return {"steps": len(steps), "steady_steps": len(steady), "tokens_per_s": tokens / seconds,
            "step_s_median": statistics.median(r["step_s"] for r in steady),
            "step_s_max": max(r["step_s"] for r in steady),
            # Contention only ever slows a step down, so the fast tail is the machine-independent speed.
            "tokens_per_s_p10_step": steady[0]["tokens_per_s"] * steady[0]["step_s"]
            / _percentile([r["step_s"] for r in steady], 0.10),
            "data_wait_s_mean": statistics.fmean(r["data_wait_s"] for r in steady),
            "first_step_s": first["step_s"],
            # Launch (dataset checked) → first step logged: process/Ray start-up, model build, compile.
            "time_to_first_step_s": first["time"] - marks["launched"],
            "worker_nice": marks.get("worker_nice"),
            "phases_s": phases(marks, first)}


def phases(marks: dict, first: dict) -> dict:
    """Where the time to first step goes (first["time"] is logged when the first step has ended)."""
    step_started = first["time"] - first["step_s"]
    out = {"ray_init": marks["ray_started"] - marks["launched"]} if "ray_started" in marks else {}
    out["worker_group_up"] = marks["loop_entered"] - marks.get("ray_started", marks["launched"])
    out["imports_and_build"] = step_started - marks["loop_entered"]
    out["first_step"] = first["step_s"]
    return out


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def spawn_arm(config: str, overrides: list[str], skip: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="graphmer-single-vs-ray-") as tmp:
        marks_file = Path(tmp) / "marks.json"
        run_dir = Path(tmp) / "run"
        code = ("import json, sys; from benchmarks.single_vs_ray import run_arm; "
                f"json.dump(run_arm({config!r}, {overrides!r}, {str(run_dir)!r}), open({str(marks_file)!r}, 'w'))")
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
        return summarize(run_dir, json.loads(marks_file.read_text()), skip)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="cpu-small")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the steady state")
    p.add_argument("--attention", default="config", choices=("config", "flex", "eager"),
                   help="config = what the config says (cpu-small: eager)")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                   help="auto = what the plan would pick here (fp32 on a CPU without bf16 instructions)")
    p.add_argument("--arms", nargs="+", default=["single", "ddp"], choices=("single", "ddp"))
    p.add_argument("--rounds", type=int, default=6,
                   help="alternating rounds (ABBA); the verdict needs their paired ratios to agree (default 6)")
    p.add_argument("--tolerance", type=float, default=0.05, help="Ray may cost this fraction (default 0.05)")
    p.add_argument("--json", metavar="FILE", help="also write the results here")
    args = p.parse_args()
    runs: dict[str, list[dict]] = {strategy: [] for strategy in args.arms}
    for round_index in range(args.rounds):
        order = args.arms if round_index % 2 == 0 else args.arms[::-1]
        for strategy in order:
            overrides = arm_overrides(strategy, args.threads, args.steps, args.attention, args.precision)
            load_before = os.getloadavg()[0]
            r = spawn_arm(args.config, overrides, args.skip)
            # Other processes on the machine show up here; compare arms only at similar load.
            r["load_avg_1m"] = (load_before + os.getloadavg()[0]) / 2
            runs[strategy].append(r)
            phase_text = ", ".join(f"{k} {v:.1f}" for k, v in r["phases_s"].items())
            print(f"round {round_index + 1} {strategy:>6}: {r['tokens_per_s']:8,.0f} tokens/s "
                  f"({r['tokens_per_s_p10_step']:,.0f} at the p10 step)  median step {r['step_s_median']:.3f} s  "
                  f"max {r['step_s_max']:.3f} s  data wait {r['data_wait_s_mean'] * 1e3:.1f} ms  "
                  f"to first step {r['time_to_first_step_s']:.1f} s ({phase_text})  "
                  f"load {r['load_avg_1m']:.1f}", flush=True)
    results: dict = {"runs": runs, "threads": args.threads, "attention": args.attention, "precision": args.precision,
                     "rounds": args.rounds}
    for strategy, arm_runs in runs.items():
        results[strategy] = {key: statistics.median(r[key] for r in arm_runs)
                             for key in ("tokens_per_s", "tokens_per_s_p10_step", "time_to_first_step_s",
                                         "load_avg_1m")}
        results[strategy]["phases_s"] = {key: statistics.median(r["phases_s"][key] for r in arm_runs)
                                         for key in arm_runs[0]["phases_s"]}
    if "single" in results and "ddp" in results:
        for strategy in ("single", "ddp"):
            m = results[strategy]
            print(f"median {strategy:>6}: {m['tokens_per_s']:8,.0f} tokens/s ({m['tokens_per_s_p10_step']:,.0f} at "
                  f"the p10 step), {m['time_to_first_step_s']:.1f} s to first step ("
                  + ", ".join(f"{k} {v:.1f} s" for k, v in m["phases_s"].items()) + ")")
        for key, label in (("tokens_per_s", "tokens/s"), ("tokens_per_s_p10_step", "p10-step tokens/s")):
            paired = [d[key] / s[key] for s, d in zip(runs["single"], runs["ddp"])]
            results[f"ray_over_single_{key}"] = verdict = judge(paired, args.tolerance)
            print(f"Ray 1-worker / single, {label}: median {verdict['median']:.3f}, quartiles "
                  f"{verdict['q1']:.3f}–{verdict['q3']:.3f}, range {verdict['min']:.3f}–{verdict['max']:.3f} "
                  f"over {len(paired)} paired rounds → {verdict['verdict']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def judge(paired: list[float], tolerance: float) -> dict:
    """A verdict only when the middle half of the paired ratios is on one side of 1 - tolerance."""
    ordered = sorted(paired)
    q1, q3 = _quantile(ordered, 0.25), _quantile(ordered, 0.75)
    floor = 1 - tolerance
    if len(ordered) < 4:
        verdict = f"no verdict: {len(ordered)} rounds are too few (use --rounds 4 or more)"
    elif q1 >= floor:
        verdict = f"Ray costs less than {tolerance:.0%}"
    elif q3 < floor:
        verdict = f"Ray costs more than {tolerance:.0%}"
    else:
        verdict = (f"no verdict: the rounds disagree (quartiles {q1:.3f}–{q3:.3f} straddle {floor:.2f}); "
                   "run more rounds or on a quieter machine")
    return {"median": statistics.median(ordered), "q1": q1, "q3": q3, "min": ordered[0], "max": ordered[-1],
            "paired": paired, "verdict": verdict}


def _quantile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks."""
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The GPU check: one run on one GPU (≤ 8 minutes on an H100, no network) that exercises every GPU path
# of graphmer-dist through its CLI and prints one table (and $OUT/gpu_check.json when OUT is set).
#
#   bash benchmarks/gpu_check.sh                 # on the GPU machine, from the repository root
#   DEVICE=cpu bash benchmarks/gpu_check.sh      # CI: the same steps with tiny shapes on a CPU
#
# Environment: DEVICE (cuda|cpu, default cuda), OUT (folder for gpu_check.json), PYTHON (default
# python3), GPU_CHECK_BUDGET_S (whole-run budget, default 450), GPU_CHECK_WORK (scratch folder).
# The tree is used in place with PYTHONPATH=<repo> (nothing is installed: `pip install -e .` would need
# setuptools from the network under build isolation); ray/deepspeed/boto3 are not needed.
#
# Steps (each has its own timeout; one failing prints FAIL with the reason and the rest still run):
#   env       python/torch/CUDA versions, device, compute capability, what the precision rule picks
#   imports   graphmer_dist and the single-process launcher import with ray/deepspeed/boto3 blocked
#   data      `graphmer-launch data` builds the dataset from this machine's stdlib (in the background,
#             on all but 4 cores, while the benchmarks run: their CPU-side overhead may be slightly up)
#   bench     `graphmer-launch bench` cpu-small and graphmert-base in bf16 and fp16, eager attention:
#             tokens/s and MFU against the datasheet peak of graphmer_dist/hardware.py
#   compiled  the same bench of cpu-small with model.attention=flex (each layer torch.compiled)
#   train     single-GPU training of cpu-small in bf16 and fp16: a reference run and a run SIGKILLed
#             after its first checkpoint, resumed; the final weights must be bit-identical. CUDA
#             determinism: GRAPHMER_DETERMINISTIC=1 → torch.use_deterministic_algorithms(True) and
#             CUBLAS_WORKSPACE_CONFIG=:4096:8 (graphmer_dist/train/precision.py), eager attention.
#   eval      `graphmer-launch eval` of the bf16 run's checkpoint on the device (precision auto)
#   memory    the plan's memory estimate (launch/memory_estimate.py, from the dataset's node counts: it sizes
#             the micro-batch holding the longest sequence, so it may exceed the bench's few batches) against
#             the bench's measured peak (CUDA: torch.cuda.max_memory_allocated; CPU: peak RSS, which
#             includes the interpreter)
#   ray/deepspeed  skipped with one line when not installed (the GPU machines have neither)
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export DEVICE="${DEVICE:-cuda}"
export GPU_CHECK_BUDGET_S="${GPU_CHECK_BUDGET_S:-450}"
export GPU_CHECK_WORK="${GPU_CHECK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")}"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export TORCHINDUCTOR_CACHE_DIR="$GPU_CHECK_WORK/inductor"
PY="${PYTHON:-python3}"
mkdir -p "$GPU_CHECK_WORK"
cat > "$GPU_CHECK_WORK/driver.py" <<'PYTHON'
import importlib.util, json, os, signal, shutil, subprocess, sys, time
from pathlib import Path

DEVICE = os.environ["DEVICE"]
CPU = DEVICE == "cpu"
WORK = Path(os.environ["GPU_CHECK_WORK"])
START = time.monotonic()
DEADLINE = START + float(os.environ["GPU_CHECK_BUDGET_S"])
PY = sys.executable
RESULTS = []
# CI shapes: the tiny config's (d=64, 2 layers, R=16, K=3, vocab 512), so one small dataset serves the
# benchmarks, training and eval; on the GPU the shipped configs as they are, each on its own dataset.
TINY = ["model.vocab_size=512", "model.hidden_size=64", "model.num_layers=2", "model.num_heads=2",
        "model.ffn_size=128", "model.num_roots=16", "model.leaves_per_root=3", "model.max_span_length=3",
        "train.micro_batch_size=4", "train.global_batch_size=4"]
BENCH_CONFIGS = {"cpu-small": TINY if CPU else [], "graphmert-base": (TINY + ["model.num_layers=1"]) if CPU else []}
PRECISIONS = ["fp32", "fp16"] if CPU else ["bf16", "fp16"]
# (config, precision) benchmarked; CI keeps one graphmert-base run, the GPU all four.
BENCH_RUNS = [(c, p) for c in BENCH_CONFIGS for p in PRECISIONS if not (CPU and (c, p) == ("graphmert-base", "fp32"))]
# CI trains fp16 only (its fp32 exact resume is tests/test_train_resume.py's); the GPU bf16 and fp16.
TRAIN_PRECISIONS = ["fp16"] if CPU else PRECISIONS
BENCH_STEPS = ["--steps", "2", "--warmup", "1"] if CPU else ["--steps", "20", "--warmup", "5"]
TRAIN_STEPS, KILL_AFTER = (4, 2) if CPU else (40, 20)
SLOW = 3 if CPU else 1  # CI machines are slow and shared: CPU-mode limits are this much longer


def log(message):
    print(f"[{time.strftime('%H:%M:%S')} +{time.monotonic() - START:5.0f}s] {message}", flush=True)


def record(step, status, detail="", **fields):
    RESULTS.append({"step": step, "status": status, "detail": detail, **fields})
    log(f"{status:4} {step}: {detail}")


def left():
    return DEADLINE - time.monotonic()


def run(step, args, limit, env=None):
    """Run a CLI command with a timeout; returns (rc, output) or None when there is no time left."""
    limit = min(limit * SLOW, left() - 5)
    if limit < 5:
        record(step, "SKIP", "out of time (GPU_CHECK_BUDGET_S)")
        return None
    shown = " ".join(a if "\n" not in a else "<script>" for a in args)
    log(f"run  {step}: {shown} (timeout {limit:.0f}s)")
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=limit, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"")[-800:] if isinstance(e.stdout, bytes) else (e.stdout or "")[-800:]
        record(step, "FAIL", f"timed out after {limit:.0f}s; last output: {out!s:.300}")
        return None
    (WORK / f"{step}.log").write_text(done.stdout + done.stderr)
    return done.returncode, done.stdout + done.stderr


def failed(step, rc, output):
    tail = [line for line in output.strip().splitlines() if line.strip()][-3:]
    record(step, "FAIL", f"exit {rc}: {' | '.join(tail)[-400:]}")


def cli(*args):
    return [PY, "-m", "launch.cli", *args]


def sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def step_env():
    code = ("import json, sys, torch\n"
            "from graphmer_dist.precision_rule import choose_precision, device_caps\n"
            f"d = torch.device('{DEVICE}')\n"
            "caps = device_caps(d)\n"
            "print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__,\n"
            "  'cuda': torch.version.cuda, 'device': caps.name if d.type == 'cuda' else 'cpu',\n"
            "  'cc': caps.compute_capability, 'auto': choose_precision('auto', caps),\n"
            "  'torch_says_bf16': torch.cuda.is_bf16_supported() if d.type == 'cuda' else None}))\n")
    got = run("env", [PY, "-c", code], 60)
    if got is None:
        return
    rc, out = got
    if rc != 0:
        return failed("env", rc, out)
    info = json.loads(out.strip().splitlines()[-1])
    record("env", "OK", f"python {info['python']}, torch {info['torch']} (CUDA {info['cuda']}), {info['device']} "
           f"cc={info['cc']}, auto precision={info['auto']}", **info)
    missing = [name for name in ("ray", "deepspeed") if importlib.util.find_spec(name) is None]
    if missing:
        record("ray/deepspeed", "SKIP", f"{' and '.join(missing)} not installed here: the DDP-over-Ray and "
               "DeepSpeed paths are not part of this single-GPU check")
    else:
        record("ray/deepspeed", "SKIP", "installed, but this check is single-GPU; the suite runs DDP/DeepSpeed on CPU")


def step_imports():
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('ray', 'deepspeed', 'boto3', 'botocore', 'moto', 'mlflow'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import graphmer_dist, graphmer_dist.train.loop, graphmer_dist.eval, graphmer_dist.bench\n"
            "import launch.cli, launch.cmd_train, launch.cmd_bench, launch.cmd_eval, launch.runner, platforms\n")
    got = run("imports", [PY, "-c", code], 60)
    if got:
        rc, out = got
        record("imports", "OK", "graphmer_dist + single-process launcher import without ray/deepspeed/boto3") \
            if rc == 0 else failed("imports", rc, out)


def data_start(config):
    """Start building `config`'s dataset (from this machine's stdlib; CI: tiny from the test corpus) in the
    background, on part of the cores, while other steps use the GPU."""
    out = WORK / f"data-{config}"
    corpus = ["--corpus", "tests/data/corpus/shop"] if CPU else []  # the stdlib is the default corpus
    workers = 1 if CPU else max(1, ((os.cpu_count() or 8) - 2) // len(DATASETS))
    args = cli("data", "--config", config, *sets(DATASETS[config] + [f"data.workers={workers}"]), "--out", str(out),
               *corpus)
    log(f"run  data {config} (background): {' '.join(args)}")
    handle = open(WORK / f"data {config}.log", "w")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT), out, time.monotonic()


def data_wait(config, started):
    name = f"data {config}"
    if started is None:
        return None
    proc, out, since = started
    limit = min((90 * SLOW if CPU else 270) - (time.monotonic() - since), left() - 60)
    try:
        rc = proc.wait(timeout=max(1, limit))
    except subprocess.TimeoutExpired:
        proc.kill()
        record(name, "FAIL", f"not built after {time.monotonic() - since:.0f}s (see {WORK / (name + '.log')})")
        return None
    if rc != 0:
        failed(name, rc, (WORK / f"{name}.log").read_text())
        return None
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    record(name, "OK", f"built from {'tests/data/corpus/shop' if CPU else 'the stdlib'} in the background, ready "
           f"{time.monotonic() - since:.0f}s after its start: {out}", sequences=manifest.get("num_sequences"))
    return out


def bench(name, config, precision, attention, overrides, dataset):
    if dataset is None:
        return record(name, "SKIP", "no dataset for it (see the data steps)")
    out = WORK / f"{name}.json"
    got = run(name, cli("bench", "--config", config, "--precision", precision, "--attention", attention,
                        "--dataset", str(dataset),
                        *BENCH_STEPS, *sets(overrides + [f"train.device={DEVICE}"]), "--json", str(out)),
              150 if CPU else (150 if attention == "flex" else 75))
    if got is None:
        return None
    if got[0] != 0:
        return failed(name, *got)
    r = json.loads(out.read_text())
    mfu = f"MFU {r['mfu']:.1%} vs {r['peak_source']}" if r.get("mfu") is not None else f"no MFU ({r.get('peak_source')})"
    record(name, "OK", f"{r['tokens_per_s']:,.0f} tokens/s, {mfu}, peak mem {r['peak_memory_bytes'] / 2**20:,.0f} MiB",
           tokens_per_s=r["tokens_per_s"], mfu=r.get("mfu"), peak_source=r.get("peak_source"),
           peak_memory_bytes=r["peak_memory_bytes"], batch_size=r["batch_size"], precision=r["precision"],
           config=config, overrides=overrides, dataset=str(dataset))
    return r


def step_bench(config, dataset):
    for precision in [p for c, p in BENCH_RUNS if c == config]:
        bench(f"bench {config} {precision}", config, precision, "eager", BENCH_CONFIGS[config], dataset)


def step_compiled(dataset):
    if CPU:
        return record("compiled", "SKIP", "DEVICE=cpu: compiling on CI's 2 cores takes minutes "
                      "(tests/test_model_attention.py covers the flex path on CPU)")
    r = bench(f"compiled cpu-small {PRECISIONS[0]}", "cpu-small", PRECISIONS[0], "flex", [], dataset)
    eager = next((x for x in RESULTS if x["step"] == f"bench cpu-small {PRECISIONS[0]}" and x["status"] == "OK"), None)
    if r and eager:
        record("compiled vs eager", "OK", f"flex/eager tokens/s = {r['tokens_per_s'] / eager['tokens_per_s']:.2f}×")


# CI trains the tiny config on the small test corpus (tests/fixtures/datasets.py explains the fractions).
TRAIN_CONFIG = "tiny" if CPU else "cpu-small"
TRAIN_SETS = ["data.file_val_fraction=0.15", "data.file_test_fraction=0.15", "data.triple_val_fraction=0.1",
              "data.triple_test_fraction=0.2", "data.shard_size=64"] if CPU else []
# config → overrides of each dataset to build: CI one (tiny), the GPU one per benchmarked config.
DATASETS = {TRAIN_CONFIG: TRAIN_SETS} if CPU else {"cpu-small": [], "graphmert-base": []}
# Bit-exact resume needs run-to-run determinism: on a CPU one thread (multi-threaded reductions may
# split work differently), on CUDA the GRAPHMER_DETERMINISTIC settings below.
DETERMINISM_SETS = ["train.num_threads=1"] if CPU else []


def ckpt(run_dir, step):
    return run_dir / "checkpoints" / f"step-{step:07d}"


def train_cmd(run_dir, precision, dataset):
    return cli("--platform", "local", "--config", TRAIN_CONFIG, "--dataset", str(dataset),
               "--strategy", "single", "--precision", precision, "--steps", str(TRAIN_STEPS),
               "--checkpoint-every", str(KILL_AFTER), "--run-dir", str(run_dir),
               *sets(TRAIN_SETS + DETERMINISM_SETS + [f"train.device={DEVICE}", "model.attention=eager",
                                                      "train.log_every=1", f"train.eval_every={TRAIN_STEPS}",
                                                      "train.eval_batches=2"]))


def step_train(precision, dataset):
    name = f"train {TRAIN_CONFIG} {precision} kill+resume"
    if dataset is None:
        return record(name, "SKIP", "no dataset (see the data step)")
    if left() < 60:
        return record(name, "SKIP", "out of time (GPU_CHECK_BUDGET_S)")
    env = {**os.environ, "GRAPHMER_DETERMINISTIC": "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    reference, killed = WORK / f"run-{precision}-reference", WORK / f"run-{precision}-killed"
    log(f"run  {name}: reference and killed runs side by side, {TRAIN_STEPS} steps")
    logs = [open(WORK / f"{name} {which}.log", "w") for which in ("reference", "killed")]
    procs = [subprocess.Popen(train_cmd(d, precision, dataset), stdout=f, stderr=subprocess.STDOUT, env=env)
             for d, f in zip((reference, killed), logs)]
    limit = min((120 if CPU else 150) * SLOW, left() - 30)
    deadline, note = time.monotonic() + limit, "SIGKILLed after its first checkpoint"
    while not (ckpt(killed, KILL_AFTER) / "manifest.json").exists():
        if procs[1].poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if procs[1].poll() is None:
        procs[1].send_signal(signal.SIGKILL)
    else:
        note = "finished before the kill; later checkpoints removed to resume from the first"
    procs[1].wait()
    try:
        procs[0].wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        procs[0].kill()
        return record(name, "FAIL", f"reference run timed out after {limit:.0f}s")
    if procs[0].returncode != 0:
        return failed(name, procs[0].returncode, (WORK / f"{name} reference.log").read_text())
    if not (ckpt(killed, KILL_AFTER) / "manifest.json").exists():
        return failed(name, procs[1].returncode, (WORK / f"{name} killed.log").read_text())
    for later in (killed / "checkpoints").glob("step-*"):
        if later.name > ckpt(killed, KILL_AFTER).name:
            shutil.rmtree(later)
    got = run(name + " resume", train_cmd(killed, precision, dataset), 90 if CPU else 120, env)
    if got is None:
        return
    if got[0] != 0 or "resumed from" not in got[1]:
        return failed(name, got[0], got[1])
    compare = ("import json, sys, torch\n"
               "a = torch.load(sys.argv[1], weights_only=True); b = torch.load(sys.argv[2], weights_only=True)\n"
               "diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)\n"
               "print(json.dumps({'identical': all(torch.equal(a[k], b[k]) for k in a), 'max_abs_diff': diff}))\n")
    got = run(name + " compare", [PY, "-c", compare, str(ckpt(reference, TRAIN_STEPS) / "model.pt"),
                                  str(ckpt(killed, TRAIN_STEPS) / "model.pt")], 60)
    if got is None:
        return
    if got[0] != 0:
        return failed(name, *got)
    same = json.loads(got[1].strip().splitlines()[-1])
    losses = [json.loads(l).get("loss") for l in (reference / "metrics.jsonl").read_text().splitlines() if '"loss"' in l]
    record(name, "OK" if same["identical"] else "FAIL",
           f"{note}; final weights {'bit-identical' if same['identical'] else 'DIFFER'} (max |Δ| "
           f"{same['max_abs_diff']:.3g}); loss {losses[0]:.3f} → {losses[-1]:.3f}",
           identical=same["identical"], max_abs_diff=same["max_abs_diff"], run_dir=str(reference))


def step_eval(dataset):
    run_dir = WORK / f"run-{TRAIN_PRECISIONS[0]}-reference"
    if dataset is None or not (run_dir / "checkpoints").exists():
        return record("eval", "SKIP", "no trained checkpoint (see the train steps)")
    out = WORK / "eval.json"
    got = run("eval", cli("eval", "--checkpoint", str(run_dir), "--dataset", str(dataset), "--device", DEVICE,
                          "--precision", "auto", "--max-queries", "50" if CPU else "500",
                          "--max-sequences", "16" if CPU else "256", "--json", str(out)), 60 if CPU else 120)
    if got is None:
        return
    if got[0] != 0:
        return failed("eval", *got)
    r = json.loads(out.read_text())
    mrr = r.get("filtered_mrr")
    mrr = f"{mrr:.4f}" if isinstance(mrr, float) else str(mrr)
    record("eval", "OK", f"{r.get('num_queries')} queries, filtered MRR {mrr}, precision "
           f"{r.get('precision')}, {r.get('eval_seconds')} s", filtered_mrr=r.get("filtered_mrr"))


def step_memory():
    benches = [r for r in RESULTS if r["step"].startswith("bench ") and r["status"] == "OK"]
    if not benches:
        return record("memory", "SKIP", "no bench result to compare with")
    code = ("import json, sys\n"
            "from graphmer_dist.config_loader import load_config\n"
            "from launch.data_shape import find_shape\n"
            "from launch.memory_estimate import estimate\n"
            "for item in json.loads(sys.argv[1]):\n"
            "    c = load_config(item['config'], [*item['overrides'], 'data.dataset_dir=' + item['dataset']])\n"
            "    m = estimate(c.model, micro_batch=item['batch_size'], precision=item['precision'], strategy='single',\n"
            "                 zero_stage=0, workers=1, offload_optimizer=False, shape=find_shape(c))\n"
            "    print(json.dumps({'step': item['step'], 'estimate': m.total_bytes}))\n")
    got = run("memory", [PY, "-c", code, json.dumps(benches)], 60)
    if got is None:
        return
    if got[0] != 0:
        return failed("memory", *got)
    what = "peak RSS incl. interpreter" if CPU else "max_memory_allocated"
    for line in got[1].strip().splitlines():
        if not line.startswith("{"):
            continue
        e = json.loads(line)
        measured = next(r["peak_memory_bytes"] for r in benches if r["step"] == e["step"])
        record("memory " + e["step"].removeprefix("bench "), "OK",
               f"estimate {e['estimate'] / 2**20:,.0f} MiB vs {what} {measured / 2**20:,.0f} MiB "
               f"(estimate/measured {e['estimate'] / measured:.2f})", estimate_bytes=e["estimate"],
               measured_bytes=measured, ratio=e["estimate"] / measured)


def main():
    log(f"gpu_check on DEVICE={DEVICE}, budget {os.environ['GPU_CHECK_BUDGET_S']}s, work folder {WORK}")
    for step in (step_env, step_imports):
        guard(step)
    building = {config: guard(data_start, config) for config in DATASETS}
    datasets = {}

    def bench_config(config):
        own = TRAIN_CONFIG if CPU else config
        if own not in datasets:
            datasets[own] = guard(data_wait, own, building[own])
        guard(step_bench, config, datasets[own])

    bench_config("cpu-small")
    dataset = datasets.get(TRAIN_CONFIG)
    for precision in TRAIN_PRECISIONS:  # before graphmert-base, whose larger dataset may still be building
        guard(step_train, precision, dataset)
    guard(step_eval, dataset)
    bench_config("graphmert-base")
    guard(step_memory)
    guard(step_compiled, dataset)  # last: compiling takes the longest, and gets whatever time is left
    return report()


def guard(step, *args):
    """A step's own bug must not end the check: it becomes a FAIL row."""
    try:
        return step(*args)
    except Exception as error:  # noqa: BLE001 — reported, then the next step runs
        record(step.__name__.removeprefix("step_"), "FAIL", f"{type(error).__name__}: {error}"[:400])


def report():
    width = max(len(r["step"]) for r in RESULTS)
    print(f"\n== gpu_check: DEVICE={DEVICE}, {time.monotonic() - START:.0f} s ==")
    for r in RESULTS:
        print(f"{r['status']:4}  {r['step']:<{width}}  {r['detail']}")
    counts = {s: sum(r["status"] == s for r in RESULTS) for s in ("OK", "FAIL", "SKIP")}
    print(f"== {counts['OK']} OK, {counts['FAIL']} FAIL, {counts['SKIP']} SKIP ==")
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "gpu_check.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"device": DEVICE, "seconds": time.monotonic() - START, "steps": RESULTS},
                                   indent=2, default=str))
        print(f"wrote {path}")
    return 1 if counts["FAIL"] else 0


sys.exit(main())
PYTHON
exec "$PY" "$GPU_CHECK_WORK/driver.py"  # exec: bash reads no further, even if this file changes meanwhile

"""`RunBenchmark`: what the training loop (rank 0) tells us while it runs → one record at the end.

    bench = RunBenchmark(config, platform=spec_dict, world_size=2, precision="bf16", device_type="cpu")
    bench.mark_start()                      # as early as possible: time to first step counts from here
    bench.step(step, seconds, tokens, samples, data_wait_s)   # once per optimizer step, global counts
    bench.checkpoint(seconds)               # once per checkpoint save
    record = bench.finish({"loss": 2.1, ...})
    append_record(run_dir, record, store=config.benchmark.store or None)

`tokens`/`samples` are the counts of the whole step over all workers (so throughput is the job's);
per-device throughput divides by `world_size`. `seconds` is the step's wall time including data wait.
"""

from __future__ import annotations

import datetime
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from graphmer_dist.config import Config
from graphmer_dist.records.peaks import resolve_peak
from graphmer_dist.records.schema import SCHEMA_VERSION


class RunBenchmark:
    def __init__(self, config: Config, *, platform: dict | None = None, world_size: int = 1,
                 precision: str = "fp32", device_type: str = "cpu", device_name: str | None = None,
                 kind: str = "train", run_dir: str | None = None, peak_flops: float | None = None,
                 flops_per_token: float | None = None, warmup_steps: int | None = None) -> None:
        """`peak_flops` overrides the per-device peak (default: GPU table, or measured on CPU at finish);
        `warmup_steps` the steps dropped before steady state (default: benchmark.warmup_steps)."""
        self.config = config
        self.platform = dict(platform or {})
        self.world_size = world_size
        self.precision = precision
        self.device_type = device_type
        self.device_name = device_name or _default_device_name(device_type)
        self.kind = kind
        self.run_dir = run_dir
        self.peak_flops = peak_flops
        self.flops_per_token = flops_per_token or _training_flops_per_token(config)
        self.warmup_steps = config.benchmark.warmup_steps if warmup_steps is None else warmup_steps
        self._start: float | None = None
        self._first_step_at: float | None = None
        self._steps: list[tuple[int, float, int, int, float]] = []
        self._checkpoints: list[float] = []
        self._work: list[tuple[int | None, int | None, float | None]] = []   # per step, beside _steps

    def mark_start(self) -> None:
        self._start = time.perf_counter()

    def step(self, step: int, seconds: float, tokens: int, samples: int, data_wait_s: float = 0.0, *,
             nonpad_tokens: int | None = None, supervised_tokens: int | None = None,
             flops: float | None = None) -> None:
        """`tokens` counts flat positions (B·N); `nonpad_tokens` the non-empty nodes among them,
        `supervised_tokens` the labelled ones, `flops` the training FLOPs the unpadded model needs for
        the step (bench/flops.py; MFU then uses it instead of flops_per_token)."""
        if self._start is None:
            self.mark_start()
        if self._first_step_at is None:
            self._first_step_at = time.perf_counter()
        self._steps.append((step, float(seconds), int(tokens), int(samples), float(data_wait_s)))
        self._work.append((nonpad_tokens, supervised_tokens, flops))

    def checkpoint(self, seconds: float) -> None:
        self._checkpoints.append(float(seconds))

    def finish(self, final_metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """The complete record (see schema.py). Call once, after the last step."""
        wall = time.perf_counter() - self._start if self._start is not None else 0.0
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "run_id": uuid.uuid4().hex[:12],
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "run_dir": self.run_dir,
            "platform": self.platform,
            "config": self.config.to_dict(),
            "config_name": self.config.name,
            "config_hash": self.config.hash(),
            "model_hash": self.config.model_hash(),
            "git_commit": git_commit(),
            "strategy": self.config.parallel.strategy,
            "zero_stage": self.config.parallel.zero_stage,
            "world_size": self.world_size,
            "precision": self.precision,
            "device_type": self.device_type,
            "device_name": self.device_name,
            "throughput": self.throughput(),
            **peak_memory(self.device_type),
            "time_to_first_step_s": self._time_to_first_step(),
            "data_wait_fraction": self._data_wait_fraction(),
            "checkpoint_save_s": summarize_seconds(self._checkpoints),
            "final_metrics": {k: _plain(v) for k, v in (final_metrics or {}).items()},
            "steps": len(self._steps),
            "wall_time_s": round(wall, 3),
            "price_per_hour": self.config.benchmark.price_per_hour,
        }

    def throughput(self) -> dict[str, Any]:
        """The `throughput` block; `graphmer-launch bench --json` prints the same fields."""
        steady = steady_state(self._steps, self.warmup_steps)
        tokens = percentiles([t / s for _, s, t, _, _ in steady if s > 0])
        samples = percentiles([n / s for _, s, _, n, _ in steady if s > 0])
        per_device = tokens["median"] / self.world_size if tokens["median"] is not None else None
        peak, source = (self.peak_flops, "given") if self.peak_flops else \
            resolve_peak(self.device_name, self.precision, self.device_type)
        mfu = per_device * self.flops_per_token / peak if per_device is not None and peak else None
        work = steady_state(list(zip(self._steps, self._work)), self.warmup_steps)
        rates = {}
        for i, name in enumerate(("nonpad_tokens_per_s", "supervised_tokens_per_s", "flops_per_s")):
            known = [(s[1], w[i]) for s, w in work if w[i] is not None and s[1] > 0]
            rates[name] = percentiles([count / seconds for seconds, count in known]) if known else None
        if rates["flops_per_s"] is not None and peak:           # needed FLOPs of the actual batches
            mfu = rates["flops_per_s"]["median"] / self.world_size / peak
        counted = [(s[2], w[0]) for s, w in work if w[0] is not None]
        nonpad_fraction = sum(n for _, n in counted) / sum(t for t, _ in counted) if counted else None
        return {
            "tokens_per_s": tokens, "samples_per_s": samples, "tokens_per_s_per_device": per_device,
            "nonpad_tokens_per_s": rates["nonpad_tokens_per_s"], "nonpad_fraction": nonpad_fraction,
            "supervised_tokens_per_s": rates["supervised_tokens_per_s"],
            "flops_per_token": self.flops_per_token, "peak_flops_per_device": peak, "peak_source": source,
            "mfu": mfu, "steady_steps": len(steady), "warmup_steps": len(self._steps) - len(steady),
        }

    def _time_to_first_step(self) -> float | None:
        if self._first_step_at is None or self._start is None:
            return None
        return round(self._first_step_at - self._start, 3)

    def _data_wait_fraction(self) -> float | None:
        total = sum(s for _, s, _, _, _ in self._steps)
        return sum(w for *_, w in self._steps) / total if total > 0 else None


def steady_state(steps: list, warmup: int) -> list:
    """Steps after the warm-up ones; a run too short for that keeps all but its first step."""
    if len(steps) > warmup:
        return steps[warmup:]
    return steps[1:] or steps


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p10": None, "p90": None}
    p10, median, p90 = np.percentile(np.asarray(values, dtype=np.float64), [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90)}


def summarize_seconds(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "total": 0.0, "mean": None, "max": None}
    return {"count": len(values), "total": sum(values), "mean": sum(values) / len(values), "max": max(values)}


def peak_memory(device_type: str) -> dict[str, Any]:
    """Peak memory of this process: CUDA max allocated on GPU, max resident set size on CPU."""
    if device_type == "cuda":
        import torch

        if torch.cuda.is_available():
            return {"peak_memory_bytes": int(torch.cuda.max_memory_allocated()), "memory_kind": "cuda_max_allocated"}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is kibibytes on Linux, bytes on macOS.
    return {"peak_memory_bytes": int(rss if sys.platform == "darwin" else rss * 1024), "memory_kind": "cpu_max_rss"}


def git_commit() -> str | None:
    """Best effort: the commit of the checkout this package runs from, None when it is not one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def _default_device_name(device_type: str) -> str:
    if device_type == "cuda":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    return cpu_model_name()


def cpu_model_name() -> str:
    """'AMD EPYC ...' from /proc/cpuinfo on Linux; the architecture elsewhere."""
    import platform as _platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _platform.processor() or _platform.machine() or "cpu"


def _training_flops_per_token(config: Config) -> float:
    # Imported here: graphmer_dist.bench pulls in torch and the model, which readers of records
    # (the report) never need.
    from graphmer_dist.bench.flops import training_flops_per_token

    return training_flops_per_token(config.model, config.train)


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars → plain numbers so the record is JSON."""
    if hasattr(value, "item"):
        return value.item()
    return value

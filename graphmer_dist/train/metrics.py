"""Rank 0's record of the run: `metrics.jsonl` rows and a progress display.

One JSON object per logged step (`step`, `loss`, `lr`, `grad_norm`, `tokens_per_s`, ...) and one per
validation (`"eval": true`). Rows are appended and flushed, so a killed run keeps what it logged; a
resumed run appends after its checkpoint's step (rows past it from the killed attempt stay, and
readers take the last row per step).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, TextIO


METRICS_FILE = "metrics.jsonl"


class MetricsWriter:
    """Appends to a local `metrics.jsonl`; on S3 (no appends) the whole file is rewritten at every
    checkpoint (`sync`), starting from what an earlier attempt left there."""

    def __init__(self, run_dir: str | None, endpoint: str | None = None, sinks: list | None = None) -> None:
        self.sinks = sinks or []  # graphmer_dist/train/sinks.py: TensorBoard, MLflow
        self._file: TextIO | None = None
        self._remote = None
        self._lines: list[str] = []
        if run_dir and "://" in run_dir:
            from graphmer_dist.storage import open_storage
            self._remote = open_storage(run_dir, endpoint)
            if self._remote.exists(METRICS_FILE):
                self._lines = self._remote.read_bytes(METRICS_FILE).decode().splitlines(keepends=True)
        elif run_dir:
            os.makedirs(run_dir, exist_ok=True)
            self._file = open(os.path.join(run_dir, METRICS_FILE), "a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, sort_keys=True) + "\n"
        if self._file is not None:
            self._file.write(line)
            self._file.flush()
        elif self._remote is not None:
            self._lines.append(line)
        for sink in self.sinks:
            sink.log(row)

    def attach(self, name: str, data: dict) -> None:
        """A file for the sinks that keep files (MLflow's artifacts), e.g. the benchmark record."""
        for sink in self.sinks:
            sink.attach(name, data)

    def sync(self) -> None:
        if self._remote is not None:
            self._remote.write_bytes(METRICS_FILE, "".join(self._lines).encode())

    def close(self) -> None:
        self.sync()
        if self._file is not None:
            self._file.close()
            self._file = None
        for sink in self.sinks:
            sink.close()


def open_metrics(config, run_dir: str, is_main: bool) -> MetricsWriter:
    """Rank 0 writes metrics.jsonl and feeds train.report_to's sinks; other ranks write nothing."""
    if not is_main:
        return MetricsWriter(None)
    from graphmer_dist.train.sinks import open_sinks
    return MetricsWriter(run_dir, config.checkpoint.s3_endpoint or None, open_sinks(config, run_dir))


class Progress:
    """A rich progress bar when stdout is a terminal, plain `step n/N loss ...` lines otherwise
    (log files, CI), so logs stay greppable. Shown by rank 0 only (`enabled`). `begin(start_step)`
    comes after the resume message, so a resumed run's bar starts at its checkpoint's step."""

    def __init__(self, total_steps: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total_steps = total_steps
        self._bar = None

    def begin(self, start_step: int) -> None:
        if self.enabled and sys.stdout.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
                TimeRemainingColumn
            self._bar = RichProgress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeRemainingColumn())
            self._task = self._bar.add_task("train", total=self.total_steps, completed=start_step, info="")
            self._bar.start()

    def update(self, step: int, row: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        info = "" if row is None else format_row(row)
        if self._bar is not None:
            self._bar.update(self._task, completed=step, **({"info": info} if row else {}))
        elif row is not None:
            print(f"step {step}/{self.total_steps} {info}", flush=True)

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class RelayedProgress(Progress):
    """Rank 0's display under Ray: every call travels to the driver (`relay.send`, launch/ray_console.py), which
    shows it with a `Progress` of its own, so the user sees one console whatever the strategy. Workers
    print nothing themselves; bar-only updates (no row) are sent at most twice a second."""

    def __init__(self, total_steps: int, enabled: bool, relay) -> None:
        super().__init__(total_steps, enabled)
        self._relay = relay
        self._last_sent = 0.0

    def _send(self, *event: Any) -> None:
        if self.enabled:
            self._relay.send(event)

    def begin(self, start_step: int) -> None:
        self._send("begin", self.total_steps, start_step)

    def update(self, step: int, row: dict[str, Any] | None) -> None:
        now = time.monotonic()
        if row is None and now - self._last_sent < 0.5:
            return
        self._last_sent = now
        self._send("update", step, row)

    def message(self, text: str) -> None:
        self._send("message", text)

    def close(self) -> None:
        if self.enabled:  # wait until the driver's relay holds everything sent before the run ends
            self._relay.send(("close",), wait=True)


def progress_display(total_steps: int, enabled: bool, relay=None) -> Progress:
    return Progress(total_steps, enabled) if relay is None else RelayedProgress(total_steps, enabled, relay)


def format_row(row: dict[str, Any]) -> str:
    keys = ("val_loss", "mlm_acc", "mnm_acc", "val_tail_mrr", "val_tail_mrr_baseline") if row.get("eval") else ("loss", "lr", "grad_norm", "tokens_per_s")
    parts = []
    for key in keys:
        if key in row:
            value = row[key]
            parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return " ".join(parts)

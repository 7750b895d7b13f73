"""Comparison rows from records: one row per run, formatted for the terminal table and for markdown.

The report reads records only, never logs; the one exception is the loss curve, which comes from the
run's own `metrics.jsonl` when its run folder is still reachable (`loss_curve`, `validation_curve`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLUMNS: tuple[str, ...] = (
    "platform", "device", "strategy", "world size", "precision", "tokens/s", "tokens/s/device",
    "tokens/$", "MFU", "non-pad tok/s", "peak mem", "first step", "ckpt save", "final loss",
    "val tail MRR", "× base",
)


@dataclass(frozen=True)
class Row:
    label: str
    """Short unique name of the run for legends: platform/device/strategy."""
    cells: dict[str, str]
    tokens_per_s: float | None
    tokens_per_s_p10: float | None
    tokens_per_s_p90: float | None
    run_dir: str | None


def build_rows(records: list[dict[str, Any]]) -> list[Row]:
    rows = [_row(r) for r in records]
    return _unique_labels(rows, records)


def _row(record: dict[str, Any]) -> Row:
    tp = record["throughput"]
    tokens = tp["tokens_per_s"]
    price = record.get("price_per_hour") or 0.0
    per_dollar = tokens["median"] * 3600.0 / price if price > 0 and tokens["median"] else None
    platform = platform_name(record) + (" (suite)" if record["kind"] == "bench" else "")
    cells = {
        "platform": platform,
        "device": short_device(record["device_name"]),
        "strategy": strategy_label(record),
        "world size": str(record["world_size"]),
        "precision": record["precision"],
        "tokens/s": _number(tokens["median"]),
        "tokens/s/device": _number(tp.get("tokens_per_s_per_device")),
        "non-pad tok/s": _number((tp.get("nonpad_tokens_per_s") or {}).get("median")),
        "tokens/$": _number(per_dollar),
        "MFU": _percent(tp.get("mfu")),
        "peak mem": _bytes(record.get("peak_memory_bytes")),
        "first step": _seconds(record.get("time_to_first_step_s")),
        "ckpt save": _seconds(record["checkpoint_save_s"].get("mean")),
        "final loss": _number(record["final_metrics"].get("loss"), digits=4),
        # The last validation: whole-tail MRR on val_lp, and its ratio to the most-frequent-tail baseline.
        "val tail MRR": _number(record["final_metrics"].get("val_tail_mrr"), digits=4),
        "× base": _ratio(record["final_metrics"].get("val_tail_mrr"), record["final_metrics"].get("val_tail_mrr_baseline")),
    }
    label = f"{platform}/{cells['device']}/{cells['strategy']}×{record['world_size']}"
    return Row(label, cells, tokens["median"], tokens.get("p10"), tokens.get("p90"), record.get("run_dir"))


def _unique_labels(rows: list[Row], records: list[dict[str, Any]]) -> list[Row]:
    """Two runs of the same setup get their run ids appended so legends stay unambiguous."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.label] = counts.get(row.label, 0) + 1
    return [Row(f"{row.label} ({rec['run_id'][:6]})", row.cells, row.tokens_per_s, row.tokens_per_s_p10,
                row.tokens_per_s_p90, row.run_dir) if counts[row.label] > 1 else row
            for row, rec in zip(rows, records)]


def platform_name(record: dict[str, Any]) -> str:
    platform = record.get("platform") or {}
    return str(platform.get("name") or platform.get("platform") or "unknown")


def strategy_label(record: dict[str, Any]) -> str:
    if record["strategy"] == "deepspeed":
        return f"zero-{record['zero_stage']}"
    return record["strategy"]


def short_device(name: str) -> str:
    for prefix in ("NVIDIA GeForce ", "NVIDIA ", "Tesla "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def to_markdown(rows: list[Row]) -> str:
    """A GitHub-flavoured table, numbers right-aligned, ready to paste into a README."""
    numeric = set(COLUMNS[3:]) - {"precision"}
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---:" if c in numeric else "---" for c in COLUMNS) + "|"
    body = ["| " + " | ".join(row.cells[c].replace("|", "\\|") for c in COLUMNS) + " |" for row in rows]
    return "\n".join([header, rule, *body]) + "\n"


def loss_curve(run_dir: str | None, endpoint: str | None = None) -> list[tuple[int, float]]:
    """(step, loss) training rows of `<run_dir>/metrics.jsonl`; empty when the folder is unreachable."""
    return [(step, values[0]) for step, values in _curve(run_dir, endpoint, ("loss",))]


def validation_curve(run_dir: str | None, endpoint: str | None = None) -> list[tuple[int, float, float]]:
    """(step, val_tail_mrr, its baseline) of the run's validation rows; empty when unreachable."""
    return [(step, *values) for step, values in _curve(run_dir, endpoint, ("val_tail_mrr", "val_tail_mrr_baseline"))]


def _curve(run_dir: str | None, endpoint: str | None, keys: tuple[str, ...]) -> list[tuple[int, tuple[float, ...]]]:
    """(step, values of `keys`) of the metrics.jsonl rows that have them all as numbers."""
    if not run_dir:
        return []
    try:
        text = _read_metrics(run_dir, endpoint)
    except Exception:  # a moved or deleted run folder only costs the curve, not the report
        return []
    points = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a killed run
        if isinstance(row, dict) and "step" in row and all(isinstance(row.get(k), (int, float)) for k in keys):
            points.append((int(row["step"]), tuple(float(row[k]) for k in keys)))
    return points


def _read_metrics(run_dir: str, endpoint: str | None) -> str:
    if run_dir.startswith("s3://"):
        from graphmer_dist.storage import open_storage

        return open_storage(run_dir, endpoint=endpoint).read_bytes("metrics.jsonl").decode("utf-8")
    return (Path(run_dir).expanduser() / "metrics.jsonl").read_text(encoding="utf-8")


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if digits:
        return f"{value:.{digits}f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _ratio(value: float | None, baseline: float | None) -> str:
    return "–" if value is None or not baseline else f"{value / baseline:.2f}×"


def _percent(fraction: float | None) -> str:
    if fraction is None:
        return "–"
    return f"{100 * fraction:.1f}%" if fraction >= 0.01 else f"{100 * fraction:.2g}%"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def _bytes(value: int | None) -> str:
    if not value:
        return "–"
    return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"

"""`graphmer-launch report [RECORDS|RUN_DIRS|s3://...] [--png FILE] [--markdown FILE]`.

Reads benchmark records (graphmer_dist/records), prints a rich table with one row per run, and
optionally writes a README-ready markdown table and a PNG with loss curves and throughput bars.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphmer_dist.records import load_records
from graphmer_dist.records.report import COLUMNS, build_rows, loss_curve, to_markdown, validation_curve


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch report",
                                description="Compare runs from their benchmark records.")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="benchmarks.jsonl files, run folders, --bench-store folders or s3:// prefixes")
    p.add_argument("--png", metavar="FILE", help="write loss curves and throughput bars here (needs matplotlib)")
    p.add_argument("--markdown", metavar="FILE", help="write the table as markdown here ('-' = stdout)")
    p.add_argument("--s3-endpoint", help="endpoint for S3-compatible stores (MinIO, moto)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    records = load_records(args.sources, endpoint=args.s3_endpoint)
    rows = build_rows(records)
    print_table(rows)
    print_sweeps(args.sources)
    if args.markdown:
        text = to_markdown(rows)
        if args.markdown == "-":
            print(text, end="")
        else:
            Path(args.markdown).expanduser().write_text(text, encoding="utf-8")
    if args.png:
        from graphmer_dist.records.plots import write_png

        curves = {row.label: loss_curve(row.run_dir, args.s3_endpoint) for row in rows}
        validation = {row.label: validation_curve(row.run_dir, args.s3_endpoint) for row in rows}
        write_png(rows, curves, args.png, validation)
    return 0


def print_table(rows) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"graphmer-dist runs ({len(rows)})")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in COLUMNS[:3] + ("precision",) else "right")
    for row in rows:
        table.add_row(*(row.cells[c] for c in COLUMNS))
    Console(width=240).print(table)


def print_sweeps(sources: list[str]) -> None:
    """A sweep folder (graphmer-launch sweep) also gets its trials ranked by the sweep's metric."""
    import json

    from launch.cmd_sweep import SWEEP_FILE, print_ranking
    for source in sources:
        path = Path(source).expanduser() / SWEEP_FILE
        if "://" not in source and path.is_file():
            sweep = json.loads(path.read_text(encoding="utf-8"))
            print(f"sweep {source}: trials ranked by {sweep['metric']} ({sweep['mode']})")
            print_ranking(sweep["trials"], sweep["metric"], list(sweep["grid"]))

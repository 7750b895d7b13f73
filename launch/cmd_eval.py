"""`graphmer-launch eval --checkpoint PATH [--dataset DIR] [--split test] [--json FILE]`.

Link prediction on the split's held-out triples (MRR, Hits@1/10, raw and filtered, per relation) —
read from the `<split>_lp` query split when the dataset has one — and MLM/MNM accuracy on the plain
split with the training masking collator. A checkpoint that does not load into the model
its own config.json describes is an error, never an evaluation of random weights.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from graphmer_dist.eval import evaluate_checkpoint


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch eval", description="Evaluate a trained checkpoint.")
    p.add_argument("--checkpoint", required=True,
                   help="a checkpoint folder (…/checkpoints/step-N), a run folder (its newest checkpoint) or s3://")
    p.add_argument("--dataset", metavar="DIR", help="the dataset the run trained on (default: its config's)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--json", metavar="FILE", help="also write the metrics here ('-' = stdout only as JSON)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-queries", type=int, help="score at most this many triples (default: all)")
    p.add_argument("--max-sequences", type=int, help="accuracy over at most this many sequences (default: all)")
    p.add_argument("--s3-endpoint", help="endpoint for S3-compatible stores (MinIO, moto)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    result = evaluate_checkpoint(args.checkpoint, args.dataset, args.split, args.device, args.precision,
                                 args.batch_size, args.max_queries, args.max_sequences, args.s3_endpoint)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.json == "-":
        print(text)
        return 0
    if args.json:
        Path(args.json).expanduser().write_text(text + "\n", encoding="utf-8")
    print_summary(result)
    return 0


def print_summary(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"link prediction on '{result['link_prediction_split']}' ({result['num_queries']} triples), "
                        f"step {result.get('step')}")
    for column in ("relation", "queries", "MRR", "Hits@1", "Hits@10", "filt. MRR", "filt. Hits@10"):
        table.add_column(column, justify="left" if column == "relation" else "right")
    rows = [("all", result)] + sorted(result["per_relation"].items())
    for name, m in rows:
        table.add_row(name, str(m["num_queries"]), *(_fmt(m[k]) for k in (
            "mrr", "hits_at_1", "hits_at_10", "filtered_mrr", "filtered_hits_at_10")))
    console = Console(width=120)
    console.print(table)
    console.print(f"MLM accuracy {_fmt(result['mlm_accuracy'])} over {result['mlm_masked_roots']} masked roots, "
                  f"MNM accuracy {_fmt(result['mnm_accuracy'])} over {result['mnm_masked_leaves']} masked leaves "
                  f"({result['num_sequences']} sequences of '{result['accuracy_split']}', {result['eval_seconds']} s)")


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"

"""`graphmer-launch data`: build (or reuse) the leafy-chain dataset and print a short summary.

    graphmer-launch data [--config F] [--set k=v] [--corpus PATH ...] [--out DIR] [--workers N]

Default config: cpu-small. Default corpus: the running interpreter's standard library.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from launch.common_args import add_config_args, config_from_args

DEFAULT_CONFIG = "cpu-small"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphmer-launch data",
                                description="Build the code-KG leafy-chain dataset (cached by content hash).")
    add_config_args(p, default_config=DEFAULT_CONFIG)
    p.add_argument("--corpus", nargs="+", metavar="PATH", help="source files/folders (default: the stdlib)")
    p.add_argument("--out", metavar="DIR", help="dataset folder (default: data.cache_dir/<content hash>)")
    p.add_argument("--workers", type=int, help="extraction processes (default: data.workers, 0 = all cores)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    overrides = [f"data.workers={args.workers}"] if args.workers is not None else []
    config = config_from_args(args, overrides)
    from graphmer_dist.data import build_or_reuse, open_dataset  # heavy imports after the config is valid

    console = Console(stderr=False, highlight=False)
    folder, reused = build_or_reuse(config, args.corpus, args.out, log=console.print)
    console.print(summary_table(open_dataset(folder).manifest, reused))
    console.print(f"dataset folder: {folder}", soft_wrap=True)  # whole, never truncated: users copy it
    return 0


def summary_table(manifest: dict, reused: bool) -> Table:
    table = Table(title="dataset (reused from cache)" if reused else "dataset", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    skipped = ", ".join(f"{reason} {n}" for reason, n in manifest["skipped_by_reason"].items()) or "none"
    per_split = manifest["num_sequences"]
    density = manifest["triples_per_sequence"]
    rows = [
        ("files", f"{manifest['num_files']} used, {manifest['num_files_skipped']} skipped ({skipped})"),
        ("triples", f"{manifest['num_triples']:,} over {len(manifest['relations'])} relation types"),
        ("ontology pass rate", f"{manifest['ontology_pass_rate']:.2%}"),
        ("sequences", ", ".join(f"{split} {n:,}" for split, n in per_split.items()) + _left_out(manifest)),
        ("triples / sequence", ", ".join(f"{split} {v:.2f}" for split, v in density.items())),
        ("link-prediction queries", ", ".join(f"{split} {n:,}" for split, n in manifest["num_queries"].items()
                                              if split != "train")),
        ("shape", f"R={manifest['num_roots']} K={manifest['leaves_per_root']} N={manifest['seq_len']} "
                  f"vocab={manifest['vocab_size']}"),
        ("non-empty nodes / sequence", _nodes_row(manifest)),
        ("build seconds", f"{manifest['build_seconds']:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _left_out(manifest: dict) -> str:
    left_out = manifest.get("num_train_sequences_left_out")  # absent before format 4
    return f" (train: {left_out:,} chunks without a triple left out)" if left_out else ""


def _nodes_row(manifest: dict) -> str:
    """What the unpadded model computes per training sequence (the plan sizes memory from it)."""
    nodes = manifest.get("nodes_per_sequence", {}).get("train")
    if not nodes:
        return "not counted (built before the manifest had node counts)"
    return (f"train mean {nodes['mean']:.1f}, p99 {nodes['p99']}, max {nodes['max']} of {manifest['seq_len']}; "
            f"leaf fill {nodes['leaf_fill']:.1%}")

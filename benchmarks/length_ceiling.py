"""How much of a checkpoint's whole-tail MRR is lost to the tail's length (docs/recipe.md, "The length
ceiling").

Link prediction scores a candidate of L tokens as log P(L) + log P(tokens | L, a candidate of length L):
token scores are normalised within each length and the length head supplies P(L). This re-ranks the
same model scores of the same queries under three priors on L, beside the most-frequent-tail baseline:

- the length head's P(L) (what `graphmer-launch eval` reports);
- P(L | relation) counted over the train facts' tails (what a head that learned nothing from the name
  would say);
- the true length given (a ceiling: no length model can do better with these token scores).

and the mean log-probability each prior gives the true length. Usage (one pass of `eval`'s link
prediction, ~30 s for 2,000 queries on 2 cores):

  python benchmarks/length_ceiling.py --checkpoint runs/cpu-1h --split test --max-queries 2000
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from graphmer_dist.errors import UserError
from graphmer_dist.eval.checkpoint import load_checkpoint
from graphmer_dist.eval.link_prediction import link_prediction_task
from graphmer_dist.eval.ranking import summarize
from graphmer_dist.eval.run import checkpoint_dataset

NEVER = -1e9
"""log P of a length no prior allows: finite, so a candidate there ranks below every allowed one."""


def count_prior(candidates, max_tail: int) -> np.ndarray:
    """log P(L = 1..K | relation) from how often each candidate is a train fact's tail."""
    mass = np.zeros(max_tail)
    for length, (offset, ids) in candidates.by_length.items():
        mass[length - 1] = candidates.train_count[offset: offset + len(ids)].sum()
    with np.errstate(divide="ignore"):
        return np.where(mass > 0, np.log(mass / max(mass.sum(), 1)), NEVER)


def true_length_prior(length: int, max_tail: int) -> np.ndarray:
    prior = np.full(max_tail, NEVER)
    prior[length - 1] = 0.0
    return prior


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--max-queries", type=int, default=2000)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.max_queries < 1:
        parser.error(f"--max-queries {args.max_queries} leaves nothing to rank; give a positive number")
    try:
        return report(args)
    except UserError as exc:   # a bad checkpoint or dataset: the message, as graphmer-launch prints it
        print(f"length_ceiling: error: {exc}", file=sys.stderr)
        return exc.exit_code


def report(args: argparse.Namespace) -> int:
    loaded = load_checkpoint(args.checkpoint)
    K = loaded.config.model.leaves_per_root
    task = link_prediction_task(checkpoint_dataset(loaded, None), args.split, loaded.config.model, args.max_queries)
    scores = task.scores(loaded.model)
    if scores.length_logp is None:
        print(f"{args.checkpoint} has no length head (model.length_head): nothing to compare", file=sys.stderr)
        return 2
    lengths = np.asarray([len(q.tail) for q in task.queries])
    priors = {
        "length head (as eval)": scores.length_logp,
        "P(L | relation), train counts": [count_prior(a.candidates, K) for a in task.answers],
        "true length given (ceiling)": [true_length_prior(n, K) for n in lengths],
    }
    baseline = task.baseline["tail_mrr"]
    rows = {"most-frequent tail": {"tail_mrr": baseline, "vs_baseline": 1.0, "log_p_true_length": None}}
    for name, prior in priors.items():
        ranks = task.ranks_of(scores.tail_scores(task.answers, prior), scores.first_token)
        mrr = summarize(ranks, task.relation)["tail_mrr"]
        true = np.asarray([p[n - 1] for p, n in zip(prior, lengths)])
        rows[name] = {"tail_mrr": mrr, "vs_baseline": mrr / baseline,
                      "log_p_true_length": float(true.mean()) if (true > NEVER).all() else None}
    print(f"{args.checkpoint}: {len(task.queries)} {task.split} queries")
    print(f"{'length prior':34s} {'tail MRR':>9s} {'x table':>8s} {'mean log P(true L)':>19s}")
    for name, row in rows.items():
        log_p = "" if row["log_p_true_length"] is None else f"{row['log_p_true_length']:.3f}"
        print(f"{name:34s} {row['tail_mrr']:9.4f} {row['vs_baseline']:8.3f} {log_p:>19s}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"checkpoint": args.checkpoint, "split": task.split, "num_queries": len(task.queries),
                       "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Link prediction over whole tails, with count baselines on exactly the same queries.

`LinkPredictionTask` is built once from a dataset split (queries, candidates, filters, baselines) and
scores any in-memory model, so the training loop, the recipe experiments and `graphmer-launch eval`
share it. Result keys (docs/interfaces.md, "Evaluation"):
- `tail_*`: the true tail's filtered rank among every candidate tail string of the relation, by the
  model's log-probability of the tail; `tail_raw_*`: the same unfiltered. A candidate of L tokens is
  scored by the summed log-probabilities of its tokens under the input with L [MASK]ed leaf slots,
  which is log P(tokens | L). With a length head (model.length_head) the score is the tail's
  probability among the relation's candidates, log P(L) + log P(tokens | L, a candidate of length L):
  each length's token scores are normalised over that length's candidates and P(L) comes from the
  head (model/length_head.py says why the plain sum is not a probability across lengths).
- `*` / `filtered_*` (no prefix): the older proxy, the rank of the tail's first token over the
  vocabulary at the first leaf slot of the true tail's input (L [MASK]s), raw and filtered.
- `baseline`: the same keys for counting: candidates ranked by how often they are the relation's
  tail among train facts, first tokens by how often they start one.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from graphmer_dist.config import ModelConfig
from graphmer_dist.data import Dataset
from graphmer_dist.data.splits import LP_SPLITS
from graphmer_dist.data.tokenizer import load_tokenizer
from graphmer_dist.errors import DataError
from graphmer_dist.eval.facts import Candidates, FactIndex, read_facts
from graphmer_dist.eval.queries import Pass, Query, collect_queries, masked_logits, mask_positions, pass_batches, plan_passes
from graphmer_dist.eval.ranking import rank, ratio, summarize
from graphmer_dist.relations import RELATIONS
from graphmer_dist.tokens import SPECIAL_TOKENS

PREFIXES = ("tail_", "tail_raw_", "", "filtered_")


@dataclass(frozen=True)
class _Answer:
    """What ranking a query needs besides the model's scores."""

    candidates: Candidates
    true_index: int
    other_tails: np.ndarray    # candidate indices of the other true tails (filtered rank)
    other_tokens: np.ndarray   # their first tokens, except the true tail's own first token


class LinkPredictionTask:
    def __init__(self, dataset: Dataset, split: str, facts: FactIndex, model: ModelConfig, found: list[Query]) -> None:
        self.dataset, self.split, self.model_config = dataset, split, model
        answers = [_answer(facts, q) for q in found]
        self.queries = [q for q, a in zip(found, answers) if a is not None]
        self.answers = [a for a in answers if a is not None]
        missing = Counter(RELATIONS[q.relation - 1] for q, a in zip(found, answers) if a is None)
        self.relations_without_candidates = sorted(missing)  # never ranked: no MRR is made up for them
        self.num_unmatched_queries = sum(missing.values())
        self.num_candidates = {RELATIONS[rel - 1]: len(c.tails) for rel, c in facts.candidates.items()}
        self.relation = np.asarray([q.relation for q in self.queries], dtype=np.int64)
        self.baseline_ranks = self._baseline_ranks(facts)
        self.baseline = summarize(self.baseline_ranks, self.relation)

    def evaluate(self, model: torch.nn.Module, device: torch.device | str = "cpu",
                 autocast: contextlib.AbstractContextManager | None = None, batch_size: int = 32) -> dict:
        started = time.perf_counter()
        was_training = model.training
        model.eval()
        try:
            out = summarize(self.ranks(model, device, autocast, batch_size), self.relation)
        finally:
            model.train(was_training)
        out["baseline"] = {k: v for k, v in self.baseline.items() if k not in ("per_relation", "num_queries")}
        for name, entry in out["per_relation"].items():
            base = self.baseline["per_relation"][name]
            entry["baseline"] = {k: v for k, v in base.items() if k != "num_queries"}
            entry["num_candidates"] = self.num_candidates[name]
        for key in ("tail_mrr", "mrr", "filtered_mrr"):
            out[f"{key}_vs_baseline"] = ratio(out[key], out["baseline"][key])
        out["num_unmatched_queries"] = self.num_unmatched_queries
        out["relations_without_candidates"] = self.relations_without_candidates
        out["link_prediction_seconds"] = round(time.perf_counter() - started, 2)
        return out

    def passes(self) -> list[Pass]:
        """Every forward-pass sequence the task runs: one per (sequence, candidate length). The true
        tail's length is among them (the true tail is a candidate): it gives the first-token ranks."""
        return plan_passes(self.queries, [set(a.candidates.by_length) for a in self.answers])

    def ranks(self, model: torch.nn.Module, device: torch.device | str = "cpu",
              autocast: contextlib.AbstractContextManager | None = None, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Metric prefix (PREFIXES) → each query's rank under `model`, aligned with `self.queries`."""
        scores = self.scores(model, device, autocast, batch_size)
        return self.ranks_of(scores.tail_scores(self.answers), scores.first_token)

    @torch.inference_mode()
    def scores(self, model: torch.nn.Module, device: torch.device | str = "cpu",
               autocast: contextlib.AbstractContextManager | None = None, batch_size: int = 32) -> "Scores":
        """What `model` says about every query, before ranking (benchmarks/length_ceiling.py recombines it)."""
        device, autocast = torch.device(device), autocast or contextlib.nullcontext()
        scores = [np.full(len(a.candidates.tails), np.nan) for a in self.answers]
        token_logp: list[np.ndarray | None] = [None] * len(self.queries)
        length_logp: list[np.ndarray | None] = [None] * len(self.queries)
        for chunk, inputs in pass_batches(self.passes(), self.queries, self.dataset, self.split, self.model_config,
                                          batch_size):
            batch, position = mask_positions(chunk, self.queries, self.model_config)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            with autocast:
                logits = masked_logits(model, inputs, batch.to(device), position.to(device))
                lengths = _length_logp(model, inputs, chunk, self.queries)
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()           # (P, V)
            cursor, query_row = 0, 0
            for p in chunk:
                for q in p.queries:
                    rows = logp[cursor: cursor + p.length]                   # (L, V)
                    cursor += p.length
                    if p.length == len(self.queries[q].tail):
                        token_logp[q] = rows[0].numpy().copy()
                    if lengths is not None:
                        length_logp[q] = lengths[query_row]
                    query_row += 1
                    block = self.answers[q].candidates.by_length.get(p.length)
                    if block is not None:
                        offset, ids = block
                        picked = rows[torch.arange(p.length), torch.from_numpy(ids)]  # (C_L, L)
                        scores[q][offset: offset + len(ids)] = picked.sum(dim=1).numpy()
        return Scores(scores, token_logp, None if all(lp is None for lp in length_logp) else length_logp)

    def _baseline_ranks(self, facts: FactIndex) -> dict[str, np.ndarray]:
        tokens = [facts.first_token_count[q.relation] for q in self.queries]
        return self.ranks_of([a.candidates.train_count for a in self.answers], tokens)

    def ranks_of(self, tail_scores: list[np.ndarray], token_scores: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Metric prefix → per-query ranks of these scores (one per candidate tail; one per vocabulary token)."""
        out = {prefix: np.zeros(len(self.queries), dtype=np.int64) for prefix in PREFIXES}
        for i, (query, answer) in enumerate(zip(self.queries, self.answers)):
            tail = tail_scores[i]
            out["tail_"][i] = rank(tail, answer.true_index, answer.other_tails)
            out["tail_raw_"][i] = rank(tail, answer.true_index)
            token = token_scores[i].astype(np.float64)                       # a copy
            token[: len(SPECIAL_TOKENS)] = -np.inf                           # never a tail token
            out[""][i] = rank(token, query.tail[0])
            out["filtered_"][i] = rank(token, query.tail[0], answer.other_tokens)
        return out


@dataclass(frozen=True)
class Scores:
    """A model's scores of a task's queries, aligned with `task.queries`: `by_length` (C,) per query,
    each candidate's summed token log-probabilities under the input of its length, log P(tokens | L);
    `first_token` (V,) log-probabilities at the first slot of the true tail's input; `length_logp` (K,)
    per query, the length head's log P(L = 1..K), or None without a length head."""

    by_length: list[np.ndarray]
    first_token: list[np.ndarray]
    length_logp: list[np.ndarray] | None

    def tail_scores(self, answers: list[_Answer], length_logp: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """The scores tails are ranked by: with a length prior (`length_logp`, else the head's) each
        length block normalised plus log P(L), without one the plain sums."""
        prior = length_logp if length_logp is not None else self.length_logp
        if prior is None:
            return self.by_length
        return [with_length_prior(s, a.candidates, lp) for s, a, lp in zip(self.by_length, answers, prior)]


def _length_logp(model: torch.nn.Module, inputs: dict[str, torch.Tensor], chunk: list[Pass],
                 queries: list[Query]) -> np.ndarray | None:
    """log P(L = 1..K) (Q, K) of every query of the chunk, in pass/query order; None without a length head."""
    if getattr(model, "length_head", None) is None:
        return None
    batch = torch.tensor([b for b, p in enumerate(chunk) for _ in p.queries], device=inputs["input_ids"].device)
    root = torch.tensor([queries[q].root for p in chunk for q in p.queries], device=batch.device)
    return model.tail_length_logp(inputs["input_ids"], inputs["leaf_relation"], inputs["head_length"],
                                  batch, root).float().cpu().numpy()


def with_length_prior(scores: np.ndarray, candidates: Candidates, length_logp: np.ndarray) -> np.ndarray:
    """log P(L) + log P(tokens | L, a candidate of length L): each length block's summed token
    log-probabilities normalised over the block (log-softmax), plus the length head's log P(L)."""
    out = scores.copy()
    for length, (offset, ids) in candidates.by_length.items():
        block = out[offset: offset + len(ids)]
        block -= np.logaddexp.reduce(block)
        block += length_logp[length - 1]
    return out


def _answer(facts: FactIndex, query: Query) -> _Answer | None:
    candidates = facts.candidates.get(query.relation)
    if candidates is None or query.tail not in candidates.index:
        return None
    others = facts.true_tails(query.relation, query.tail, query.head_ids) - {query.tail}
    other_tokens = {t[0] for t in others} - {query.tail[0]}
    return _Answer(candidates, candidates.index[query.tail],
                   np.asarray(sorted(candidates.index[t] for t in others), dtype=np.int64),
                   np.asarray(sorted(other_tokens), dtype=np.int64))


def link_prediction_task(dataset: Dataset, split: str, model: ModelConfig,
                         max_queries: int | None = None) -> LinkPredictionTask:
    """The task over `<split>_lp` (val_lp or test_lp): held-out facts injected into chunks of every
    file, so far more of them become queries than in the plain split (data/query_splits.py)."""
    query_split = f"{split}_lp"
    if query_split not in LP_SPLITS or not dataset.has_split(query_split):
        raise DataError(f"dataset {dataset.path} has no '{query_split}' query split, so there are no held-out "
                        "facts to rank (built before query splits, or with data.max_lp_sequences=0). Rebuild it "
                        "with `graphmer-launch data` and the run's --config (keep data.max_lp_sequences > 0), "
                        "then pass it with --dataset; and use --split val or test")
    queries = collect_queries(dataset, query_split, model, max_queries)
    facts = FactIndex(read_facts(dataset.triples_path), load_tokenizer(dataset.tokenizer_path), model.leaves_per_root,
                      model.vocab_size, wanted={(q.relation, q.tail) for q in queries})
    task = LinkPredictionTask(dataset, query_split, facts, model, queries)
    if not task.queries:
        why = (f"none of its {task.num_unmatched_queries} queries has its tail among the candidates (triples.tsv "
               "does not match the shards: rebuild the dataset with `graphmer-launch data`)" if task.num_unmatched_queries
               else "no held-out fact of this split is mentioned in the corpus (a small corpus: raise "
                    f"data.triple_{split}_fraction, or use the other split)")
        raise DataError(f"split '{query_split}' of {dataset.path} has nothing to rank: {why}")
    return task

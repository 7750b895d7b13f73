"""Short recipe ablations (docs/recipe.md): train a config for a few steps in-process and print, beside
their count baselines, the numbers that show whether the model reads its input:

- root MLM cross-entropy and accuracy vs the train unigram distribution (CE and most-frequent-token rate);
- leaf MNM cross-entropy vs a per-(relation, slot) token count table;
- whole-tail MRR on `val_lp` queries vs the per-relation most-frequent tail (candidates: the distinct tails
  of the relation seen in the train shards' leaves, true tail added; a candidate of length L is scored
  under the input that masks exactly L leaf slots; ties count against the true tail; unfiltered).

Quality numbers are step-based, so this runs without the timing lock. Usage:
  python benchmarks/recipe_ablation.py --dataset DIR --config cpu-small --steps 150 --set train.lr=1e-3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import pickle
import sys
import time
from collections import Counter, defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from graphmer_dist.config_loader import load_config
from graphmer_dist.data import open_dataset
from graphmer_dist.eval.link_prediction import link_prediction_task
from graphmer_dist.masking import MaskingCollator
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.tokens import MASK_ID, PAD_ID, SPECIAL_TOKENS
from graphmer_dist.train.batches import ShardRows, TrainBatches, eval_batches
from graphmer_dist.train.optim import build_optimizer, build_scheduler
from graphmer_dist.train.sampler import ShardedSampler

NUM_SPECIAL = len(SPECIAL_TOKENS)


def train_counts(dataset, cfg, max_rows: int = 4000):
    """Unigram root counts, (relation, slot) leaf counts and per-relation tail counts from train shards."""
    R, K = cfg.model.num_roots, cfg.model.leaves_per_root
    roots, leaf, tails = Counter(), defaultdict(Counter), defaultdict(Counter)
    seen = 0
    for i in range(len(dataset.shard_sizes("train"))):
        arrays = dataset.load_shard("train", i)
        ids = np.asarray(arrays["input_ids"])
        rel = np.asarray(arrays["leaf_relation"])
        for b in range(len(ids)):
            r_ids = ids[b, :R]
            roots.update(r_ids[r_ids >= NUM_SPECIAL].tolist())
            for root in np.flatnonzero(rel[b] > 0):
                block = ids[b, R + K * root: R + K * (root + 1)]
                tail = tuple(int(t) for t in block if t != PAD_ID)
                tails[int(rel[b, root])][tail] += 1
                for slot, tok in enumerate(tail):
                    leaf[(int(rel[b, root]), slot)][tok] += 1
            seen += 1
            if seen >= max_rows:
                return roots, leaf, tails
    return roots, leaf, tails


def count_ce(counter: Counter, token: int, vocab: int) -> float:
    total = sum(counter.values())
    return -math.log((counter.get(token, 0) + 0.1) / (total + 0.1 * vocab))


@torch.no_grad()
def masked_token_eval(model, rows, collator, cfg, counts, autocast, batches: int) -> dict:
    roots, leaf, _ = counts
    R, K, V = cfg.model.num_roots, cfg.model.leaves_per_root, cfg.model.vocab_size
    top_root = roots.most_common(1)[0][0]
    acc = defaultdict(float)
    model.eval()
    for batch in eval_batches(rows, collator, cfg.train.micro_batch_size, batches, cfg.train.seed, 0, 1):
        with autocast():
            states, layout = model.encoder.encode(batch["input_ids"], batch["attention_mask"],
                                                  batch["leaf_relation"], batch["head_length"])
            b, p = torch.nonzero(batch["labels"] != -100, as_tuple=True)
            logits = model.token_logits(states, layout, batch["input_ids"], b, p)
            sbo = model.sbo_head(layout.to_flat(states), batch["sbo_index"]).float()
        target = batch["labels"][b, p]
        ce = F.cross_entropy(logits, target, reduction="none")
        correct = logits.argmax(-1) == target
        acc["sbo_ce"] += float(F.cross_entropy(sbo, batch["sbo_labels"], reduction="sum"))
        acc["sbo_n"] += len(batch["sbo_labels"])
        for i in range(len(target)):
            tok, pos = int(target[i]), int(p[i])
            if pos < R:
                acc["root_ce"] += float(ce[i]); acc["root_ok"] += bool(correct[i]); acc["root_n"] += 1
                acc["root_base_ce"] += count_ce(roots, tok, V); acc["root_base_ok"] += tok == top_root
            else:
                root, slot = (pos - R) // K, (pos - R) % K
                key = (int(batch["leaf_relation"][b[i], root]), slot)
                acc["leaf_ce"] += float(ce[i]); acc["leaf_ok"] += bool(correct[i]); acc["leaf_n"] += 1
                acc["leaf_base_ce"] += count_ce(leaf[key], tok, V)
                acc["leaf_base_ok"] += bool(leaf[key]) and tok == leaf[key].most_common(1)[0][0]
    model.train()
    rn, ln = max(acc["root_n"], 1), max(acc["leaf_n"], 1)
    return {"root_ce": acc["root_ce"] / rn, "root_ce_base": acc["root_base_ce"] / rn,
            "root_acc": acc["root_ok"] / rn, "root_acc_base": acc["root_base_ok"] / rn, "roots": int(acc["root_n"]),
            "leaf_ce": acc["leaf_ce"] / ln, "leaf_ce_base": acc["leaf_base_ce"] / ln,
            "leaf_acc": acc["leaf_ok"] / ln, "leaf_acc_base": acc["leaf_base_ok"] / ln, "leaves": int(acc["leaf_n"]),
            "sbo_ce": acc["sbo_ce"] / max(acc["sbo_n"], 1)}


def val_task(dataset, cfg, max_queries: int, cache: str | None):
    """The validation link-prediction task the training loop uses (filtered whole-tail ranks beside the
    per-relation most-frequent tail); building its fact index takes minutes, so it can be pickled."""
    if cache and os.path.exists(cache):
        with open(cache, "rb") as f:
            return pickle.load(f)
    task = link_prediction_task(dataset, "val", cfg.model, max_queries)
    if cache:
        with open(cache, "wb") as f:
            pickle.dump(task, f)
    return task


def tail_mrr(model, task, autocast) -> dict:
    out = task.evaluate(model, "cpu", autocast(), batch_size=32)
    return {"tail_mrr": out["tail_mrr"], "tail_mrr_base": out["baseline"]["tail_mrr"],
            "tail_ratio": out["tail_mrr_vs_baseline"], "token_mrr": out["mrr"],
            "token_mrr_base": out["baseline"]["mrr"], "queries": out["num_queries"]}


def grad_norms(model) -> dict:
    out = {}
    for i, layer in enumerate(model.encoder.layers):
        out[f"g{i}"] = math.sqrt(sum(float(p.grad.float().pow(2).sum()) for p in layer.parameters()
                                     if p.grad is not None))
    out["g_emb"] = float(model.encoder.token_embedding.weight.grad.float().norm())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--config", default="cpu-small")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval-batches", type=int, default=8)
    ap.add_argument("--lp-queries", type=int, default=128)
    ap.add_argument("--task-cache", help="pickle of the validation task (built once, reused by later runs)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--label", default="")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--save", help="write the trained model's state dict here at the end")
    ap.add_argument("--unigram-bias", action="store_true", help="start the MLM head's bias at log train unigram")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, [f"train.steps={args.steps}", *args.set])
    dataset = open_dataset(args.dataset)
    collator = MaskingCollator(cfg.model, cfg.train, dataset.vocab_flags())
    torch.manual_seed(cfg.train.seed)
    model = GraphMERForPretraining(cfg.model, cfg.train)
    opt = build_optimizer(model, cfg.train, fused=True)
    sched = build_scheduler(opt, cfg.train)
    rows = ShardRows(dataset, "train")
    sampler = ShardedSampler(rows.sizes, cfg.train.seed, cfg.train.global_batch_size, rank=0, world_size=1)
    batches = TrainBatches(rows, sampler, collator, cfg.train.micro_batch_size, cfg.train.seed)
    val_rows = ShardRows(dataset, "val")
    counts = train_counts(dataset, cfg)
    if args.unigram_bias:
        freq = torch.full((cfg.model.vocab_size,), 0.1)
        for tok, n in counts[0].items():
            freq[tok] += n
        with torch.no_grad():
            model.mlm_head.bias.copy_(torch.log(freq / freq.sum()))
    task = val_task(dataset, cfg, args.lp_queries, args.task_cache)
    # fp32: CPU bf16 autocast is only fast with avx512_bf16/AMX; on an AVX2-only CPU its matmuls are ~50x slower.
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
    accum = cfg.grad_accum_steps
    start = time.time()
    for step in range(1, args.steps + 1):
        parts = defaultdict(float)
        for batch, _ in batches.step_batches():
            with autocast():
                out = model(**batch)
            (out["loss"] / accum).backward()
            for k in ("loss", "mlm_loss", "sbo_loss"):
                parts[k] += float(out[k].detach()) / accum
        norms = grad_norms(model) if step % args.eval_every == 0 or step == 1 else {}
        gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip))
        opt.step(); opt.zero_grad(set_to_none=True); sched.step()
        row = {"step": step, **{k: round(v, 3) for k, v in parts.items()}, "grad_norm": round(gn, 3)}
        if step % args.eval_every == 0 or step == args.steps:
            row.update({k: round(v, 3) for k, v in norms.items()})
            row.update({k: round(v, 4) if isinstance(v, float) else v for k, v in
                        masked_token_eval(model, val_rows, collator, cfg, counts, autocast, args.eval_batches).items()})
            row.update({k: round(v, 4) if isinstance(v, float) else v for k, v in
                        tail_mrr(model, task, autocast).items()})
            row["elapsed_s"] = round(time.time() - start)
            print(json.dumps({"label": args.label, **row}), flush=True)
        elif step % 10 == 0:
            print(json.dumps(row), flush=True)
    if args.save:
        torch.save(model.state_dict(), args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())

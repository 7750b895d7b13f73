"""Write one dataset's content into a (staging) folder: tokenizer, relations, triples, shards, manifest.

`manifest.json` is written last: a folder without it is an incomplete build (docs/interfaces.md).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable

from tokenizers import Tokenizer

from graphmer_dist.config import Config
from graphmer_dist.errors import DataError
from graphmer_dist.data.cache import DATASET_FORMAT_VERSION, MANIFEST
from graphmer_dist.data.chains import Injection, TripleIndex, build_file_sequences
from graphmer_dist.data.corpus_encoding import encode_corpus
from graphmer_dist.data.query_splits import QuerySplitSampler
from graphmer_dist.data.shards import ShardWriter
from graphmer_dist.data.splits import LP_SPLITS, SPLITS, file_split, pair_shortcuts, triple_split
from graphmer_dist.data.tokenizer import encode_tails
from graphmer_dist.relations import RELATION_ID, RELATIONS

MAX_SKIPPED_LISTED = 200
Surface = Callable[[str, str], str]


def write_dataset(folder: Path, kg, config: Config, content_hash: str, corpus_roots: list[str],
                  started: float, surface: Surface | None = None, encoding=None) -> dict:
    """Everything but the final rename; returns the manifest it wrote. `surface` (entity, kind) → tail
    text defaults to `graphmer_dist.kg.surface`, the KG's own rendering of an entity. `encoding` is
    what `corpus_encoding.start_encoding` returned for the texts of `kg.files`, in that order; None
    trains the tokenizer and encodes the files here."""
    if surface is None:
        from graphmer_dist.kg import surface
    model, data = config.model, config.data
    graph_done = time.perf_counter()
    if encoding is None:
        encoded = encode_corpus([f.text for f in kg.files], model.vocab_size, data.tokenizer_min_frequency)
    else:
        encoded = encoding.result()
    tokens_done = time.perf_counter()
    tokenizer = encoded.tokenizer
    tokenizer.save(str(folder / "tokenizer.json"))
    _write_json(folder / "relations.json", {"relations": list(RELATIONS), "ids": dict(RELATION_ID)})
    splits_of_triples = [triple_split(t.head, t.relation, t.tail, data.triple_val_fraction, data.triple_test_fraction,
                                      data.triple_split_by) for t in kg.triples]
    _write_triples(folder / "triples.tsv", kg, splits_of_triples, surface)
    options = _triple_options(kg, splits_of_triples, tokenizer, model.leaves_per_root, surface)
    indexes = {split: TripleIndex(options[split]) for split in SPLITS}
    # Their own indexes: the query splits rotate through the facts independently of the plain splits.
    samplers = [QuerySplitSampler(lp, TripleIndex(options[held_out]), data.max_lp_sequences)
                for lp, held_out in LP_SPLITS.items() if data.max_lp_sequences > 0]
    writers = {split: ShardWriter(folder, split, data.shard_size, model.num_roots) for split in SPLITS}
    files_per_split: Counter[str] = Counter()
    left_out = 0  # train chunks without a triple (data.train_sequences)
    for extraction, ids, offsets in zip(kg.files, encoded.ids, encoded.offsets):
        relative = os.path.relpath(extraction.source.path, extraction.source.root)
        split = file_split(relative, data.file_val_fraction, data.file_test_fraction)
        files_per_split[split] += 1
        sequences = build_file_sequences(ids, offsets, extraction.mentions, indexes[split],
                                         model.num_roots, model.leaves_per_root)
        if split == "train" and data.train_sequences == "with_triples":
            kept = sequences.with_triples()
            left_out += len(sequences.input_ids) - len(kept.input_ids)
            sequences = kept
        writers[split].add(sequences)
        for sampler in samplers:
            sampler.add_file(relative, ids, offsets, extraction.mentions, model.num_roots, model.leaves_per_root)
    shards = {split: writer.close() for split, writer in writers.items()}
    if writers["train"].num_sequences == 0 and left_out:
        raise DataError(
            f"none of the {left_out} chunks of the corpus's training files carries a triple, so "
            "data.train_sequences=with_triples leaves the train split empty. Use a larger corpus, or set "
            "data.train_sequences=all to train on chunks without triples.")
    for sampler in samplers:
        writers[sampler.split] = ShardWriter(folder, sampler.split, data.shard_size, model.num_roots)
        shards[sampler.split] = sampler.write(writers[sampler.split])
    manifest = _manifest(kg, config, content_hash, corpus_roots, writers, shards, tokenizer)
    manifest["num_files_by_split"] = {split: files_per_split[split] for split in SPLITS}
    manifest["train_sequences"] = data.train_sequences
    manifest["num_train_sequences_left_out"] = left_out
    manifest["num_triples_by_split"] = {split: splits_of_triples.count(split) for split in SPLITS}
    manifest["triple_split_by"] = data.triple_split_by
    manifest["num_pair_shortcuts"] = pair_shortcuts(kg.triples, splits_of_triples)
    manifest["num_lp_candidates"] = {s.split: s.num_candidates for s in samplers}  # before the cap
    manifest["build_seconds"] = round(time.perf_counter() - started, 2)
    # Wall phases add up to build_seconds; tokenizer/encode are the helper's own times, which (with
    # data.workers > 1) overlapped the KG phase, so only `waiting_for_tokens` of them shows in the wall.
    manifest["phase_seconds"] = {"kg": round(graph_done - started, 2),
                                 "waiting_for_tokens": round(tokens_done - graph_done, 2),
                                 "sequences": round(time.perf_counter() - tokens_done, 2),
                                 "tokenizer": round(encoded.tokenizer_seconds, 2),
                                 "encode": round(encoded.encode_seconds, 2)}
    _write_json(folder / MANIFEST, manifest)
    return manifest


def _triple_options(kg, splits_of_triples: list[str], tokenizer: Tokenizer, max_tail: int,
                    surface: Surface) -> dict[str, dict[str, list[Injection]]]:
    """Per split: head → injectable triples (tails of at most K tokens), in the KG's sorted order."""
    tails = sorted({t.tail for t in kg.triples})
    tail_ids = dict(zip(tails, encode_tails(tokenizer, [surface(t, kg.entities.get(t, "external")) for t in tails])))
    options: dict[str, dict[str, list[Injection]]] = {split: defaultdict(list) for split in SPLITS}
    for triple, split in zip(kg.triples, splits_of_triples):
        ids = tail_ids[triple.tail]
        if 0 < len(ids) <= max_tail:
            options[split][triple.head].append(Injection(RELATION_ID[triple.relation], ids))
    return {split: dict(by_head) for split, by_head in options.items()}


def _manifest(kg, config: Config, content_hash: str, corpus_roots: list[str], writers: dict[str, ShardWriter],
              shards: dict[str, list[dict]], tokenizer: Tokenizer) -> dict:
    model = config.model
    skipped = sorted(kg.skipped, key=lambda s: s.path)
    return {
        "format_version": DATASET_FORMAT_VERSION,
        "content_hash": content_hash,
        "num_files": len(kg.files),
        "num_files_skipped": len(skipped),
        "skipped_by_reason": dict(sorted(Counter(s.reason for s in skipped).items())),
        "skipped_files": {s.path: s.reason for s in skipped[:MAX_SKIPPED_LISTED]},
        "num_triples": len(kg.triples),
        "num_entities": len(kg.entities),
        "relations": dict(sorted(Counter(t.relation for t in kg.triples).items())),
        "ontology_pass_rate": kg.ontology.pass_rate,
        "num_sequences": {split: w.num_sequences for split, w in writers.items()},
        "num_shards": sum(len(s) for s in shards.values()),
        "shards": shards,
        "triples_per_sequence": {split: round(w.num_injected / w.num_sequences, 3) if w.num_sequences else 0.0
                                 for split, w in writers.items()},
        "num_injected": {split: w.num_injected for split, w in writers.items()},
        # What the unpadded model computes per sequence; the plan sizes memory from it (launch/data_shape.py).
        "nodes_per_sequence": {split: w.nodes.summary() for split, w in writers.items()},
        # One link-prediction query per injected triple (graphmer_dist/eval/queries.py).
        "num_queries": {split: w.num_injected for split, w in writers.items()},
        "vocab_size": model.vocab_size,
        "tokenizer_vocab_size": tokenizer.get_vocab_size(),
        "num_roots": model.num_roots,
        "leaves_per_root": model.leaves_per_root,
        "seq_len": model.seq_len,
        "shard_size": config.data.shard_size,
        "corpus": list(corpus_roots),
    }


def _write_triples(path: Path, kg, splits: list[str], surface: Surface) -> None:
    """One fact a line, with the tail's text as injected into leaves (eval ranks tails by it)."""
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for triple, split in zip(kg.triples, splits):
            text = surface(triple.tail, kg.entities.get(triple.tail, "external"))
            out.write(f"{triple.head}\t{triple.relation}\t{triple.tail}\t{split}\t{text}\n")


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")

"""`extract_corpus`: discover files, extract them in a process pool, link them into one graph.

The two halves are also callable apart (`parse_corpus`, then `link_corpus`): the dataset build starts
the tokenizer on the parsed texts while the parent links (`data/build.py`). Files are sorted by path and
cut into contiguous chunks; `ProcessPoolExecutor.map` returns chunks in submission order, so the result
is identical for any number of workers.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

from graphmer_dist.config import DataConfig
from graphmer_dist.errors import DataError
from graphmer_dist.kg.discover import discover_sources
from graphmer_dist.kg.link import link
from graphmer_dist.kg.ontology import check_ontology
from graphmer_dist.kg.raw import RawFile
from graphmer_dist.kg.types import KnowledgeGraph, Skipped, SourceFile
from graphmer_dist.kg.worker import extract_chunk

_CHUNKS_PER_WORKER = 8
"""Several chunks per worker balance uneven file sizes; more would only add round-trips."""


def extract_corpus(paths: list[str], data: DataConfig) -> KnowledgeGraph:
    return link_corpus(*parse_corpus(paths, data))


def parse_corpus(paths: list[str], data: DataConfig) -> tuple[list[RawFile], list[Skipped]]:
    """Every file's raw facts, in path order, and the files skipped; DataError when none parses."""
    sources, skipped = discover_sources(paths, data)
    _require_languages(data)
    raws: list[RawFile] = []
    for result in _run_pool(sources, data.workers or os.cpu_count() or 1):
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            raws.append(result)
    if not raws:
        raise DataError(
            f"none of the {len(sources)} source files in the corpus {list(paths) or 'standard library'} "
            f"could be parsed (reasons: {_reason_counts(skipped)}). Point data.corpus (or --corpus) at "
            "UTF-8 source files that parse with this Python version.")
    return raws, skipped


def link_corpus(raws: list[RawFile], skipped: list[Skipped]) -> KnowledgeGraph:
    resolver, triples, files = link(raws)
    ontology = check_ontology(triples, resolver.entities)
    return KnowledgeGraph(files=files, skipped=sorted(skipped, key=lambda s: s.path), triples=triples,
                          entities=dict(sorted(resolver.entities.items())), ontology=ontology)


def _run_pool(sources: list[SourceFile], workers: int) -> list[RawFile | Skipped]:
    if workers == 1 or len(sources) < 2:
        return extract_chunk(sources)  # no pool: cheaper for tiny corpora and easier to debug
    size = max(1, -(-len(sources) // (workers * _CHUNKS_PER_WORKER)))
    chunks = [sources[i:i + size] for i in range(0, len(sources), size)]
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        return [result for chunk in pool.map(extract_chunk, chunks) for result in chunk]


def _require_languages(data: DataConfig) -> None:
    """Java/JavaScript need the optional tree-sitter extra; say so before any work is done."""
    wanted = [lang for lang in data.languages if lang != "python"]
    if not wanted:
        return
    try:
        from graphmer_dist.kg import treesitter
    except ImportError as exc:
        raise DataError(
            f"data.languages asks for {wanted}, which need the tree-sitter grammars ({exc}). Install them "
            "with `pip install 'graphmer-dist[treesitter]'` or set data.languages to [python].") from exc
    treesitter.check_available(wanted)


def _reason_counts(skipped: list[Skipped]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in skipped:
        counts[item.reason] = counts.get(item.reason, 0) + 1
    return dict(sorted(counts.items()))

"""`build_dataset`: corpus → code KG → tokenizer → leafy-chain shards, cached by content hash.

The KG part (`graphmer_dist.kg`) finds and parses the files; this module decides whether a build is
needed, builds into a staging folder and renames it into place once `manifest.json` is written.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable

from graphmer_dist.config import Config
from graphmer_dist.data.cache import check_replaceable, dataset_key, install, read_manifest, staging_dir
from graphmer_dist.data.corpus_encoding import start_encoding
from graphmer_dist.data.writer import write_dataset

Log = Callable[[str], None]


def build_dataset(config: Config, corpus: list[str] | None = None, out: Path | None = None,
                  log: Log = print) -> Path:
    """The dataset folder for (config, corpus): reused if already built from the same inputs."""
    return build_or_reuse(config, corpus, out, log)[0]


def build_or_reuse(config: Config, corpus: list[str] | None = None, out: Path | str | None = None,
                   log: Log = print) -> tuple[Path, bool]:
    """(folder, reused). `corpus` None → `data.corpus`, or the stdlib when that is empty too;
    `out` None → `data.dataset_dir`, or `data.cache_dir/<content hash>`."""
    from graphmer_dist import kg  # imported late: `graphmer_dist.data` readers need no parser

    started = time.perf_counter()
    paths = [str(Path(p).expanduser().absolute()) for p in (corpus or config.data.corpus)]
    roots = paths or kg.default_corpus()  # an empty list tells the KG to walk the stdlib its own way
    sources, skipped = kg.discover_sources(paths, config.data)  # DataError for a missing or empty corpus
    key = dataset_key(config, roots, [s.path for s in sources] + [s.path for s in skipped])
    target = _target_folder(config, out, key)
    manifest = read_manifest(target)
    if manifest is not None and manifest.get("content_hash") == key:
        log(f"dataset {target} is up to date (content hash {key}); reusing it")
        return target, True
    check_replaceable(target)
    log(f"building dataset {target} from {len(sources)} files ({len(skipped)} skipped while scanning)")
    raws, skipped_files = kg.parse_corpus(paths, config.data)  # DataError when no file parses
    # The tokenizer needs only the texts: it trains and encodes on the other core while this one links.
    encoding = start_encoding([raw.text for raw in raws], config.model.vocab_size,
                              config.data.tokenizer_min_frequency, config.data.workers or os.cpu_count() or 1)
    graph = kg.link_corpus(raws, skipped_files)
    del raws  # the graph's files keep the texts; the raw facts are done with
    staging = staging_dir(target)
    try:
        write_dataset(staging, graph, config, key, roots, started, encoding=encoding)
        install(staging, target)
    finally:
        if staging.exists():  # a failed build leaves no half-written folder behind
            shutil.rmtree(staging, ignore_errors=True)
    return target, False


def _target_folder(config: Config, out: Path | str | None, key: str) -> Path:
    if out:
        return Path(out).expanduser().resolve()
    if config.data.dataset_dir:
        return Path(config.data.dataset_dir).expanduser().resolve()
    return Path(config.data.cache_dir).expanduser().resolve() / key


__all__ = ["build_dataset", "build_or_reuse"]

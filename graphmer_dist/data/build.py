"""`build_dataset`: corpus → code KG → tokenizer → leafy-chain shards, cached by content hash.

The KG part (`graphmer_dist.kg`) finds and parses the files; this module decides whether a build is
needed, builds into a staging folder and renames it into place once `manifest.json` is written.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from graphmer_dist.config import Config
from graphmer_dist.data.cache import MANIFEST, check_replaceable, dataset_key, install, read_manifest, staging_dir
from graphmer_dist.data.writer import write_dataset
from graphmer_dist.errors import DataError

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
    roots = resolve_corpus(corpus if corpus else config.data.corpus, kg.default_corpus)
    sources, skipped = kg.discover_sources(roots, config.data)
    if not sources and not skipped:
        raise DataError(f"the corpus {roots} contains no source files for languages {config.data.languages}; "
                        "pass --corpus with folders of .py files (or add the language to data.languages)")
    key = dataset_key(config, roots, [s.path for s in sources] + [s.path for s in skipped],
                      getattr(kg, "EXTRACTOR_VERSION", ""))
    target = _target_folder(config, out, key)
    manifest = read_manifest(target)
    if manifest is not None and manifest.get("content_hash") == key:
        log(f"dataset {target} is up to date (content hash {key}); reusing it")
        return target, True
    check_replaceable(target)
    log(f"building dataset {target} from {len(sources)} files ({len(skipped)} skipped while scanning)")
    graph = kg.extract_corpus(roots, config.data)
    if not graph.files:
        raise DataError(_nothing_usable_message(roots, graph.skipped))
    staging = staging_dir(target)
    try:
        write_dataset(staging, graph, config, key, roots, started)
        install(staging, target)
    finally:
        if staging.exists():  # a failed build leaves no half-written folder behind
            shutil.rmtree(staging, ignore_errors=True)
    return target, False


def resolve_corpus(paths: list[str], default_corpus: Callable[[], list[str]]) -> list[str]:
    """Absolute corpus roots; a missing one is a DataError naming it."""
    given = list(paths) or default_corpus()
    missing = [p for p in given if not Path(p).expanduser().exists()]
    if missing:
        raise DataError(f"corpus path(s) {missing} do not exist; check the --corpus arguments "
                        "(files or folders of source code)")
    return [str(Path(p).expanduser().resolve()) for p in given]


def _target_folder(config: Config, out: Path | str | None, key: str) -> Path:
    if out:
        return Path(out).expanduser().resolve()
    if config.data.dataset_dir:
        return Path(config.data.dataset_dir).expanduser().resolve()
    return Path(config.data.cache_dir).expanduser().resolve() / key


def _nothing_usable_message(roots: list[str], skipped: list) -> str:
    reasons = Counter(s.reason for s in skipped)
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    examples = ", ".join(f"{s.path} ({s.reason})" for s in skipped[:3])
    return (f"the corpus {roots} has no usable source file: all {len(skipped)} were skipped ({summary}); "
            f"e.g. {examples}. Fix or remove those files, or pass --corpus with other sources")


__all__ = ["build_dataset", "build_or_reuse", "resolve_corpus", "MANIFEST"]

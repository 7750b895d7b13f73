"""The code knowledge graph: exact triples from static analysis of source files (docs/design.md §2).

`extract_corpus(paths, data)` walks the corpus (`discover.py`), parses files in a process pool
(`worker.py`, `python_visitor.py`, `python_flows.py`), resolves names and follows values across the
corpus (`resolver.py`, `points_to.py`, `link.py`) and checks the result against the ontology
(`ontology.py`, which documents every relation).
"""

from graphmer_dist.kg.discover import default_corpus, discover_sources
from graphmer_dist.kg.extract import extract_corpus, link_corpus, parse_corpus
from graphmer_dist.kg.ontology import DOMAIN_RANGE, check_ontology
from graphmer_dist.kg.types import (ENTITY_KINDS, SKIP_REASONS, FileExtraction, KnowledgeGraph, Mention,
                                    OntologyReport, Skipped, SourceFile, Triple, surface)

__all__ = [
    "DOMAIN_RANGE", "ENTITY_KINDS", "SKIP_REASONS", "FileExtraction", "KnowledgeGraph", "Mention",
    "OntologyReport", "Skipped", "SourceFile", "Triple", "check_ontology", "default_corpus",
    "discover_sources", "extract_corpus", "link_corpus", "parse_corpus", "surface",
]

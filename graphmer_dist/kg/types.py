"""The records the code knowledge graph is made of (see docs/interfaces.md, "Code knowledge graph").

Everything here is a frozen dataclass or a NamedTuple, so it pickles cheaply and compares by value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

ENTITY_KINDS = ("module", "class", "function", "method", "attribute", "variable", "exception", "external")

SKIP_REASONS = ("unreadable", "not_utf8", "syntax_error", "empty", "too_large", "symlink_loop",
                "unsupported_language", "too_complex")


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    """Absolute path of the file."""
    root: str
    """The corpus argument it was found under (a folder, or the file itself)."""
    module: str
    """Dotted module name relative to `root` (`json/decoder.py` → `json.decoder`, `pkg/__init__.py` → `pkg`)."""
    language: str


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str
    """One of `SKIP_REASONS`; the dataset manifest counts files by it."""
    detail: str = ""
    """Human-readable specifics (the syntax error's line, the size limit); not part of the contract."""

    def __post_init__(self) -> None:
        assert self.reason in SKIP_REASONS, self.reason


class Triple(NamedTuple):
    """A NamedTuple rather than a dataclass: a corpus has ~10⁶ of them, and tuples build and sort fast."""

    head: str
    relation: str
    tail: str


class Mention(NamedTuple):
    entity: str
    start: int
    """str index into `FileExtraction.text` (not a byte offset)."""
    end: int


@dataclass(frozen=True, slots=True)
class FileExtraction:
    source: SourceFile
    text: str
    """The file decoded with `bytes.decode("utf-8")`, newlines untouched; the dataset tokenizes this."""
    mentions: list[Mention]
    """Sorted by (start, end)."""


@dataclass(frozen=True, slots=True)
class OntologyReport:
    checked: int
    passed: int
    violations: list[str] = field(default_factory=list)
    """The first violations found, for the message; capped, so `checked - passed` is the true count."""

    @property
    def pass_rate(self) -> float:
        return self.passed / self.checked if self.checked else 1.0


@dataclass(frozen=True, slots=True)
class KnowledgeGraph:
    files: list[FileExtraction]
    """Sorted by path."""
    skipped: list[Skipped]
    triples: list[Triple]
    """Deduplicated and sorted."""
    entities: dict[str, str]
    """Qualified name → kind (one of `ENTITY_KINDS`)."""
    ontology: OntologyReport


def surface(entity: str, kind: str) -> str:
    """The text injected as a leaf for `entity`: the full dotted name for modules, else the last part."""
    if kind == "module":
        return entity
    return entity.rsplit(".", 1)[-1]

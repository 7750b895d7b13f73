"""Per-file work run inside the extraction process pool: read, decode, parse, visit.

Each failure becomes a `Skipped` with a reason instead of an exception, so one bad file never stops a
corpus. Work is handed out in chunks of files to amortise the process round-trip.
"""

from __future__ import annotations

import ast
import warnings

from graphmer_dist.kg.python_visitor import PythonVisitor
from graphmer_dist.kg.raw import RawFile
from graphmer_dist.kg.types import Skipped, SourceFile

MAX_FLOW_RECORDS = 200_000
"""Assignments, returns and calls one file may hand to the corpus-wide value flow: the largest stdlib
file has about 20,000; beyond this a file is generated code whose flow would only cost time and memory."""


def extract_chunk(sources: list[SourceFile]) -> list[RawFile | Skipped]:
    return [extract_file(source) for source in sources]


def extract_file(source: SourceFile) -> RawFile | Skipped:
    try:
        with open(source.path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return Skipped(source.path, "unreadable", exc.strerror or str(exc))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(source.path, "not_utf8", f"byte {exc.start}: {exc.reason}")
    if not text.strip():
        return Skipped(source.path, "empty", "only whitespace")
    if source.language != "python":
        from graphmer_dist.kg.treesitter import extract_treesitter  # optional extra, imported lazily
        return extract_treesitter(source, text)
    return _extract_python(source, text)


def _extract_python(source: SourceFile, text: str) -> RawFile | Skipped:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old code are not our concern
            tree = ast.parse(text, filename=source.path)
    except SyntaxError as exc:
        return Skipped(source.path, "syntax_error", f"line {exc.lineno}: {exc.msg}")
    except ValueError as exc:  # null bytes
        return Skipped(source.path, "syntax_error", str(exc) or type(exc).__name__)
    except (RecursionError, MemoryError) as exc:  # absurdly deep nesting (a 10,000-long `a.b.b...`)
        return Skipped(source.path, "too_complex", str(exc) or type(exc).__name__)
    raw = RawFile(source, text)
    try:
        PythonVisitor(raw).run(tree)
    except RecursionError:
        return Skipped(source.path, "too_complex", "nesting too deep to analyse")
    records = len(raw.flows) + len(raw.sites)
    if records > MAX_FLOW_RECORDS:
        return Skipped(source.path, "too_complex",
                       f"{records} value-flow records > {MAX_FLOW_RECORDS} (generated code?)")
    _share_equal_refs(raw)
    return raw


def _share_equal_refs(raw: RawFile) -> None:
    """Make equal references one object: pickle then sends each once, which shrinks what the parent
    must receive and unpickle (about a third of a file's facts and mentions repeat a reference)."""
    shared: dict = {}

    def one(ref):
        return None if ref is None else shared.setdefault(ref, ref)

    raw.facts = [(head, kind, one(ref)) for head, kind, ref in raw.facts]
    raw.mentions = [(start, end, one(ref)) for start, end, ref in raw.mentions]
    raw.flows = list(dict.fromkeys(raw.flows))  # a container literal used twice records its elements once
    raw.sites = [(head, kind, one(callee), args, keywords) for head, kind, callee, args, keywords in raw.sites]

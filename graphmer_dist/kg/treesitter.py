"""Java and JavaScript extraction through tree-sitter grammars (the optional `treesitter` extra).

Produces the same `RawFile` references as the Python visitor, so linking, the ontology check and the
dataset treat every language alike. Covered relations: defines, defined_in, declares, inherits_from,
implements (Java), calls, invokes, instantiates, imports (plus depends_on and contains, derived).
Importing this module fails with ImportError when `tree_sitter` is missing; `extract.py` turns that
into a DataError that names the extra to install.
"""

from __future__ import annotations

import importlib
import tree_sitter

from graphmer_dist.errors import DataError
from graphmer_dist.kg.offsets import LineOffsets
from graphmer_dist.kg.raw import RawFile, Ref
from graphmer_dist.kg.types import Skipped, SourceFile

GRAMMARS = {"java": "tree_sitter_java", "javascript": "tree_sitter_javascript"}
_PARSERS: dict[str, tree_sitter.Parser] = {}


def check_available(languages: list[str]) -> None:
    for language in languages:
        try:
            _parser(language)
        except ImportError as exc:
            raise DataError(
                f"data.languages includes '{language}', but its grammar is not installed ({exc}). Install "
                "it with `pip install 'graphmer-dist[treesitter]'` or remove it from data.languages.") from exc


def _parser(language: str) -> tree_sitter.Parser:
    if language not in _PARSERS:
        grammar = importlib.import_module(GRAMMARS[language])
        _PARSERS[language] = tree_sitter.Parser(tree_sitter.Language(grammar.language()))
    return _PARSERS[language]


def extract_treesitter(source: SourceFile, text: str) -> RawFile | Skipped:
    tree = _parser(source.language).parse(text.encode("utf-8"))
    if tree.root_node.has_error:
        line = _first_error_line(tree.root_node)
        return Skipped(source.path, "syntax_error", f"line {line}: tree-sitter could not parse it")
    raw = RawFile(source, text)
    from graphmer_dist.kg.ts_java import JavaWalker  # imported here: they use TreeContext below
    from graphmer_dist.kg.ts_javascript import JavaScriptWalker
    walker = JavaWalker if source.language == "java" else JavaScriptWalker
    walker(TreeContext(raw)).run(tree.root_node)
    return raw


def _first_error_line(node: tree_sitter.Node) -> int:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "ERROR" or current.is_missing:
            return current.start_point[0] + 1
        stack.extend(reversed(current.children))
    return node.start_point[0] + 1


class TreeContext:
    """Recording helpers shared by the language walkers."""

    def __init__(self, raw: RawFile) -> None:
        self.raw = raw
        self.module = raw.source.module
        self.offsets = LineOffsets(raw.text)
        self._declared: set[str] = set()

    def name(self, node: tree_sitter.Node | None) -> str:
        return node.text.decode("utf-8") if node is not None and node.text is not None else ""

    def declare(self, qname: str, kind: str, parent: str, name_node: tree_sitter.Node | None) -> None:
        if qname not in self._declared:
            self._declared.add(qname)
            self.raw.definitions.append((qname, kind, parent))
        self.mention(name_node, ("n", qname))

    def fact(self, head: str, kind: str, ref: Ref | None) -> None:
        if ref is not None:
            self.raw.facts.append((head, kind, ref))

    def mention(self, node: tree_sitter.Node | None, ref: Ref | None) -> None:
        if node is None or ref is None:
            return
        (row, col), (end_row, end_col) = node.start_point, node.end_point
        self.raw.mentions.append((self.offsets.index(row + 1, col), self.offsets.index(end_row + 1, end_col), ref))

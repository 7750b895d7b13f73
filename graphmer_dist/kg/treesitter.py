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
from graphmer_dist.kg.raw import RawFile
from graphmer_dist.kg.ts_context import TreeContext
from graphmer_dist.kg.ts_java import JavaWalker
from graphmer_dist.kg.ts_javascript import JavaScriptWalker
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

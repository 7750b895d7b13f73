"""The machinery under the Python visitor: fast traversal, per-file state and recording helpers.

`PythonVisitor` (python_visitor.py) adds the handlers that decide what each construct means.
"""

from __future__ import annotations

import ast

from graphmer_dist.kg import scopes
from graphmer_dist.kg.offsets import LineOffsets
from graphmer_dist.kg.raw import RawFile, Ref, is_test_module


class VisitorBase(ast.NodeVisitor):
    def __init__(self, raw: RawFile) -> None:
        self.raw = raw
        self.module = raw.source.module
        self.is_package = raw.source.path.endswith("__init__.py")
        self.is_test = is_test_module(self.module)
        self.offsets = LineOffsets(raw.text)
        self.stack = scopes.ScopeStack(self.module)
        self.heads: list[str] = [self.module]
        self.declared: set[tuple[str, str]] = set()
        self.instance_attributes: dict[str, list[str]] = {}
        self.generators: set[str] = set()
        self._dispatch = {getattr(ast, name[6:]): getattr(self, name) for name in dir(self)
                          if name.startswith("visit_") and hasattr(ast, name[6:])}

    # ---- traversal: NodeVisitor's, minus its per-node reflection (most of the extraction time) ---
    def visit(self, node: ast.AST) -> None:
        method = self._dispatch.get(type(node))
        if method is not None:
            method(node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in _child_fields(type(node)):
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    # ---- recording helpers -----------------------------------------------------------------------
    def _declare(self, qname: str, kind: str, parent: str) -> None:
        if (qname, kind) not in self.declared:  # the resolver picks one kind if a name has several
            self.declared.add((qname, kind))
            self.raw.definitions.append((qname, kind, parent))

    def _fact(self, kind: str, ref: Ref | None, head: str | None = None) -> None:
        if ref is not None and kind:
            self.raw.facts.append((head or self.heads[-1], kind, ref))

    def _mention_node(self, node: ast.expr, ref: Ref | None) -> None:
        """Mention the last name of a Name/Attribute node (`zeros` in `np.zeros`)."""
        if ref is None or node.end_lineno is None:
            return
        end = self.offsets.index(node.end_lineno, node.end_col_offset)
        length = len(node.id) if isinstance(node, ast.Name) else len(node.attr)
        self.raw.mentions.append((end - length, end, ref))

    def _mention_definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, keyword: str,
                            ref: Ref) -> None:
        """Mention the name after `def`/`class` (ast gives only the statement's start)."""
        line = self.offsets.line(node.lineno)
        after_keyword = line.find(keyword, self.offsets.char_col(node.lineno, node.col_offset)) + len(keyword)
        start = line.find(node.name, after_keyword)
        if after_keyword >= len(keyword) and start >= 0:  # else the name is on a continuation line
            begin = self.offsets.starts[node.lineno - 1] + start
            self.raw.mentions.append((begin, begin + len(node.name), ref))

    def reference(self, node: ast.expr, kind: str, head: str | None = None) -> Ref | None:
        """Record `node` (a name, attribute or call) as a `kind` fact with a mention; visit its parts."""
        if isinstance(node, ast.Call):
            self.reference(node.func, kind, head)
            for arg in (*node.args, *node.keywords):
                self.visit(arg)
            return None
        ref = self.stack.resolve(node)
        self._fact(kind, ref, head)
        if isinstance(node, (ast.Name, ast.Attribute)):
            self._mention_node(node, ref)
        if isinstance(node, ast.Attribute):
            self.visit(node.value)
        elif not isinstance(node, ast.Name):
            self.visit(node)
        return ref


_SCALAR_FIELDS = frozenset({"ctx", "op", "id", "attr", "name", "arg", "kind", "type_comment", "level",
                            "module", "is_async", "conversion", "simple", "lineno", "col_offset",
                            "end_lineno", "end_col_offset", "asname", "names", "value_str"})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(node_type: type) -> tuple[str, ...]:
    """Fields of an ast node type that can hold child nodes (contexts and operators are skipped)."""
    fields = _FIELDS.get(node_type)
    if fields is None:
        fields = _FIELDS[node_type] = tuple(f for f in node_type._fields if f not in _SCALAR_FIELDS)
    return fields

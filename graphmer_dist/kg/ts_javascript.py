"""JavaScript (ES modules and CommonJS): functions, classes, methods, imports, calls and `new`.

Module names come from the path like Python's (`src/util.js` → `src.util`); `import x from "./util"`
and `require("./util")` resolve relative to the importing file; bare specifiers (`react`) are external.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from graphmer_dist.kg.raw import Ref

if TYPE_CHECKING:
    from tree_sitter import Node

    from graphmer_dist.kg.ts_context import TreeContext

_FUNCTIONS = ("function_declaration", "generator_function_declaration")
_FUNCTION_VALUES = ("arrow_function", "function_expression", "function", "generator_function")


class JavaScriptWalker:
    def __init__(self, ctx: TreeContext) -> None:
        self.ctx = ctx
        self.names: dict[str, Ref] = {}
        """Module-level name → reference (local definitions and imports)."""

    def run(self, root: Node) -> None:
        statements = [c.child_by_field_name("declaration") or c if c.type == "export_statement" else c
                      for c in root.named_children]
        for node in statements:
            self._bind(node)
        for node in statements:
            self._statement(node)

    # ---- module-level bindings -----------------------------------------------------------------
    def _bind(self, node: Node) -> None:
        module = self.ctx.module
        if node.type in _FUNCTIONS or node.type == "class_declaration":
            name = self.ctx.name(node.child_by_field_name("name"))
            self.names[name] = ("n", f"{module}.{name}")
        elif node.type == "import_statement":
            self._import(node)
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                name = self.ctx.name(declarator.child_by_field_name("name"))
                value = declarator.child_by_field_name("value")
                required = _required_module(self.ctx, value)
                if required is not None:
                    target = self.module_path(required)
                    self.names[name] = ("n", target)
                    self.ctx.fact(module, "import", ("im", target))
                elif name:
                    self.names[name] = ("n", f"{module}.{name}")

    def _import(self, node: Node) -> None:
        source = node.child_by_field_name("source")
        target = self.module_path(self.ctx.name(source).strip("'\"`"))
        self.ctx.fact(self.ctx.module, "import", ("im", target))
        fragment = next((c for c in source.named_children if c.type == "string_fragment"), None)
        self.ctx.mention(fragment, ("im", target))  # the name inside the quotes
        for spec in _descendants(node, ("import_specifier", "namespace_import", "identifier")):
            if spec.type == "import_specifier":
                imported = self.ctx.name(spec.child_by_field_name("name"))
                alias = self.ctx.name(spec.child_by_field_name("alias")) or imported
                self.names[alias] = ("n", f"{target}.{imported}")
            elif spec.type == "namespace_import" or spec.parent is not None and spec.parent.type == "import_clause":
                name_node = spec if spec.type == "identifier" else spec.named_children[-1]
                self.names[self.ctx.name(name_node)] = ("n", target)

    def module_path(self, specifier: str) -> str:
        if not specifier.startswith("."):
            return specifier.replace("/", ".")  # a package: external unless the corpus has it
        folder = posixpath.dirname(self.ctx.module.replace(".", "/"))
        path = posixpath.normpath(posixpath.join(folder, specifier))
        for suffix in (".js", ".mjs"):
            path = path.removesuffix(suffix)
        return path.removesuffix("/index").replace("/", ".")

    # ---- definitions ---------------------------------------------------------------------------
    def _statement(self, node: Node) -> None:
        module = self.ctx.module
        if node.type in _FUNCTIONS:
            name_node = node.child_by_field_name("name")
            qname = f"{module}.{self.ctx.name(name_node)}"
            self.ctx.declare(qname, "function", module, name_node)
            self._code(node.child_by_field_name("body"), qname, "")
        elif node.type == "class_declaration":
            self._class(node, module)
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                self._declarator(declarator, module)
        elif node.type != "import_statement":
            self._code(node, module, "")

    def _declarator(self, declarator: Node, module: str) -> None:
        name_node = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if name_node is None or name_node.type != "identifier" or _required_module(self.ctx, value):
            return
        qname = f"{module}.{self.ctx.name(name_node)}"
        is_function = value is not None and value.type in _FUNCTION_VALUES
        self.ctx.declare(qname, "function" if is_function else "variable", module, name_node)
        if value is not None:
            self._code(value, qname if is_function else module, "")

    def _class(self, node: Node, parent: str) -> None:
        name_node = node.child_by_field_name("name")
        qname = f"{parent}.{self.ctx.name(name_node)}"
        self.ctx.declare(qname, "class", parent, name_node)
        bases = self.ctx.raw.bases.setdefault(qname, [])
        heritage = next((c for c in node.named_children if c.type == "class_heritage"), None)
        if heritage is not None and heritage.named_children:
            ref = self.resolve(heritage.named_children[0])
            self.ctx.mention(_last_name(heritage.named_children[0]), ref)
            if ref is not None:
                bases.append(ref)
        for member in node.child_by_field_name("body").named_children:
            if member.type == "method_definition":
                method_name = member.child_by_field_name("name")
                method = f"{qname}.{self.ctx.name(method_name)}"
                self.ctx.declare(method, "method", qname, method_name)
                self._code(member.child_by_field_name("body"), method, qname)

    # ---- references ----------------------------------------------------------------------------
    def resolve(self, node: Node | None, cls: str = "") -> Ref | None:
        if node is None:
            return None
        if node.type == "identifier":
            return self.names.get(self.ctx.name(node))
        if node.type != "member_expression":
            return None
        target, prop = node.child_by_field_name("object"), self.ctx.name(node.child_by_field_name("property"))
        if target is not None and target.type == "this" and cls:
            return ("m", cls, prop)
        if target is not None and target.type == "super" and cls:
            return ("s", cls, prop)
        base = self.resolve(target, cls)
        return ("n", f"{base[1]}.{prop}") if base is not None and base[0] == "n" else None

    def _code(self, node: Node | None, head: str, cls: str) -> None:
        stack = [node] if node is not None else []
        while stack:
            current = stack.pop()
            if current.type == "class_declaration":
                continue
            if current.type in ("call_expression", "new_expression"):
                callee = current.child_by_field_name("function" if current.type == "call_expression" else "constructor")
                ref = self.resolve(callee, cls)
                self.ctx.fact(head, "call", ref)
                self.ctx.mention(_last_name(callee), ref)
            stack.extend(reversed(current.named_children))


def _required_module(ctx: TreeContext, value: Node | None) -> str | None:
    """`require("x")` → "x"."""
    if value is None or value.type != "call_expression":
        return None
    function, arguments = value.child_by_field_name("function"), value.child_by_field_name("arguments")
    if ctx.name(function) != "require" or arguments is None or not arguments.named_children:
        return None
    return ctx.name(arguments.named_children[0]).strip("'\"`")


def _last_name(node: Node | None) -> Node | None:
    if node is not None and node.type == "member_expression":
        return node.child_by_field_name("property")
    return node


def _descendants(node: Node, types: tuple[str, ...]) -> list[Node]:
    found, stack = [], list(reversed(node.named_children))
    while stack:
        current = stack.pop()
        if current.type in types:
            found.append(current)
        if current.type not in ("import_specifier", "namespace_import"):
            stack.extend(reversed(current.named_children))
    return found

"""Java: classes, interfaces, enums and records, their members, inheritance, calls and `new`.

Java's static types make calls resolvable: `h.go()` with `Helper h` is `Helper.go`. Types are found
in this file, then its imports, then its package (one public class per file, so `a/b/Foo.java`
declares `a.b.Foo.Foo`, which the `("jt", "a.b.Foo")` reference finds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphmer_dist.kg.raw import Ref

if TYPE_CHECKING:
    from tree_sitter import Node

    from graphmer_dist.kg.ts_context import TreeContext

_TYPES = ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration")
_MEMBERS = ("method_declaration", "constructor_declaration")


class JavaWalker:
    def __init__(self, ctx: TreeContext) -> None:
        self.ctx = ctx
        self.package = ctx.module.rpartition(".")[0]
        self.imports: dict[str, str] = {}
        self.local_types: dict[str, str] = {}
        self.variables: dict[str, str] = {}
        """Variable or field name → its declared type's simple name, within the current class."""

    def run(self, root: Node) -> None:
        for child in root.named_children:
            if child.type == "import_declaration":
                self._import(child)
        self._collect_types(root, self.ctx.module)
        for child in root.named_children:
            if child.type in _TYPES:
                self._type(child, self.ctx.module)

    def _import(self, node: Node) -> None:
        dotted = self.ctx.name(next((c for c in node.named_children if "identifier" in c.type), None))
        if not dotted or any(c.type == "asterisk" for c in node.children):
            self.ctx.fact(self.ctx.module, "import", ("im", dotted) if dotted else None)
            return
        self.imports[dotted.rpartition(".")[2]] = dotted
        self.ctx.fact(self.ctx.module, "import", ("im", dotted))

    def _collect_types(self, node: Node, outer: str) -> None:
        for child in node.named_children:
            if child.type in _TYPES:
                qname = f"{outer}.{self.ctx.name(child.child_by_field_name('name'))}"
                self.local_types.setdefault(qname.rpartition(".")[2], qname)
                body = child.child_by_field_name("body")
                if body is not None:
                    self._collect_types(body, qname)

    def type_ref(self, simple: str) -> Ref | None:
        if not simple:
            return None
        if simple in self.local_types:
            return ("n", self.local_types[simple])
        if simple in self.imports:
            return ("jt", self.imports[simple])
        return ("jt", f"{self.package}.{simple}" if self.package else simple)

    def _type(self, node: Node, parent: str) -> None:
        name_node = node.child_by_field_name("name")
        qname = f"{parent}.{self.ctx.name(name_node)}"
        self.ctx.declare(qname, "class", parent, name_node)
        modifiers = next((c for c in node.children if c.type == "modifiers"), None)
        if node.type == "interface_declaration" or (modifiers is not None and b"abstract" in (modifiers.text or b"")):
            self.ctx.raw.abstract.add(qname)
        bases = self.ctx.raw.bases.setdefault(qname, [])
        for child in node.children:
            if child.type in ("superclass", "super_interfaces", "extends_interfaces"):
                for type_node in _type_identifiers(child):
                    ref = self.type_ref(self.ctx.name(type_node))
                    self.ctx.mention(type_node, ref)
                    if ref is not None:
                        bases.append(ref)
        body = node.child_by_field_name("body")
        if body is not None:
            self._body(body, qname)

    def _body(self, body: Node, cls: str) -> None:
        saved, self.variables = self.variables, {}
        for member in body.named_children:
            if member.type == "field_declaration":
                self._declarations(member, cls, cls, "attribute")
        for member in body.named_children:
            if member.type in _TYPES:
                self._type(member, cls)
            elif member.type in _MEMBERS:
                name_node = member.child_by_field_name("name")
                method = f"{cls}.{self.ctx.name(name_node)}"
                self.ctx.declare(method, "method", cls, name_node)
                self._code(member, method, cls)
            elif member.type == "field_declaration":
                self._code(member, cls, cls)
        self.variables = saved

    def _declarations(self, node: Node, head: str, cls: str, kind: str) -> None:
        """`Type a = ..., b;` records a and b's type; fields also become attributes."""
        type_node = node.child_by_field_name("type")
        type_name = self.ctx.name(type_node).split("<")[0]
        for declarator in node.children_by_field_name("declarator"):
            name_node = declarator.child_by_field_name("name")
            self.variables[self.ctx.name(name_node)] = type_name
            if kind == "attribute":
                self.ctx.declare(f"{cls}.{self.ctx.name(name_node)}", "attribute", cls, name_node)

    def _code(self, node: Node, head: str, cls: str) -> None:
        stack = list(reversed(node.named_children))
        while stack:
            current = stack.pop()
            kind = current.type
            if kind in _TYPES or kind == "class_body":
                continue  # nested and anonymous classes are walked as types of their own
            if kind in ("local_variable_declaration", "formal_parameter"):
                self._local(current)
            elif kind == "method_invocation":
                self._invocation(current, head, cls)
            elif kind == "object_creation_expression":
                type_node = current.child_by_field_name("type")
                ref = self.type_ref(self.ctx.name(type_node).split("<")[0])
                self.ctx.fact(head, "call", ref)
                self.ctx.mention(type_node, ref)
            stack.extend(reversed(current.named_children))

    def _local(self, node: Node) -> None:
        if node.type == "formal_parameter":
            name = self.ctx.name(node.child_by_field_name("name"))
            self.variables[name] = self.ctx.name(node.child_by_field_name("type")).split("<")[0]
        else:
            self._declarations(node, "", "", "variable")

    def _invocation(self, node: Node, head: str, cls: str) -> None:
        name_node = node.child_by_field_name("name")
        name = self.ctx.name(name_node)
        target = node.child_by_field_name("object")
        ref: Ref | None = None
        if target is None or target.type == "this":
            ref = ("m", cls, name)
        elif target.type == "super":
            ref = ("s", cls, name)
        elif target.type == "identifier":
            receiver = self.ctx.name(target)
            type_name = self.variables.get(receiver, receiver)  # a variable's type, or a class name
            type_ref = self.type_ref(type_name) if type_name[:1].isupper() else None
            if type_ref is not None:
                ref = ("jm", type_ref[0], type_ref[1], name)
                if receiver == type_name:
                    self.ctx.mention(target, type_ref)
        self.ctx.fact(head, "call", ref)
        self.ctx.mention(name_node, ref)


def _type_identifiers(node: Node) -> list[Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.type == "type_identifier":
            found.append(current)
        elif current.type != "type_arguments":
            stack.extend(reversed(current.named_children))
    return found

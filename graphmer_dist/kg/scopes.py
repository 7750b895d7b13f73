"""Python name resolution inside one file: a stack of scopes that maps an expression to a reference.

Follows Python's rules closely enough for static analysis: class bodies are not visible from their
methods, function locals shadow globals, `global` names refer to the module, imports bind aliases.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from graphmer_dist.kg.bindings import Bindings
from graphmer_dist.kg.raw import Ref

BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(slots=True)
class Scope:
    kind: str
    """module | class | function | local (a comprehension: own names, same head; a lambda's parameters)."""
    qname: str
    names: dict[str, Ref | None] = field(default_factory=dict)
    """Bound name → reference, or None for a plain local that cannot be resolved statically."""
    class_qname: str = ""
    """For a method: the class it belongs to."""
    self_name: str = ""
    """For a method: its first parameter (`self` / `cls`), empty for static methods."""
    flags: str = ""
    """For a function: "c" classmethod, "s" staticmethod (see `RawFile.functions`)."""
    own: frozenset[str] = frozenset()
    """Plain names this scope assigns (locals, parameters; a class's or module's own variables): the
    head reading or writing them says nothing about its relations to other code."""


def module_scope(module: str, found: Bindings) -> Scope:
    names: dict[str, Ref | None] = {n: ("n", f"{module}.{n}") for n in found.assigned}
    names.update({n: ("n", t) for n, t in found.imports.items()})
    names.update({n: ("n", f"{module}.{n}") for n in found.definitions})
    return Scope("module", module, names, own=frozenset(found.assigned - found.definitions - found.imports.keys()))


def class_scope(qname: str, found: Bindings) -> Scope:
    names: dict[str, Ref | None] = {n: ("n", f"{qname}.{n}") for n in found.assigned | found.definitions}
    names.update({n: ("n", t) for n, t in found.imports.items()})
    return Scope("class", qname, names, own=frozenset(found.assigned - found.definitions - found.imports.keys()))


def function_locals(found: Bindings) -> list[str]:
    """Parameters and local variables that become `variable` entities (`module.func.name`), `self` and
    `cls` included (a parameter like any other; `self.x` is still resolved through the class)."""
    skip = found.nonlocal_names | found.global_names | found.imports.keys() | found.definitions
    return sorted(found.assigned - skip)


def function_scope(qname: str, module: str, found: Bindings, class_qname: str, self_name: str,
                   flags: str = "") -> Scope:
    local = function_locals(found)
    names: dict[str, Ref | None] = {n: ("n", f"{qname}.{n}") for n in local}
    names.update({n: ("n", t) for n, t in found.imports.items()})
    names.update({n: ("n", f"{qname}.{n}") for n in found.definitions})
    names.update({n: ("n", f"{module}.{n}") for n in found.global_names})
    return Scope("function", qname, names, class_qname, self_name, flags, frozenset(local))


class ScopeStack:
    def __init__(self, module: str) -> None:
        self.module = module
        self.scopes: list[Scope] = []

    def is_own(self, name: str) -> bool:
        """Is `name` a plain variable of the innermost scope (a local, or a module's own global)?"""
        for scope in reversed(self.scopes):
            if scope.kind != "local":
                return name in scope.own
            if name in scope.names:
                return False
        return False

    def lookup(self, name: str) -> Ref | None:
        innermost = len(self.scopes) - 1
        for i in range(innermost, -1, -1):
            scope = self.scopes[i]
            if scope.kind == "class" and i != innermost:
                continue  # methods do not see their class body's names
            if name in scope.names:
                return scope.names[name]
        if name in BUILTIN_NAMES:
            return ("n", f"builtins.{name}")
        # unbound here: maybe from `from m import *`, which linking tries
        return ("n", f"{self.module}.{name}")

    def method(self) -> Scope | None:
        """The nearest enclosing method (closures inside a method still see its `self`)."""
        for scope in reversed(self.scopes):
            if scope.kind == "function" and scope.class_qname:
                return scope
        return None

    def resolve(self, node: ast.expr) -> Ref | None:
        """The reference an expression names, or None if it is not a (dotted) name we can follow."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if not isinstance(node, ast.Attribute):
            return None
        value = node.value
        if isinstance(value, ast.Name):
            method = self.method()
            if method and method.self_name and value.id == method.self_name:
                return ("m", method.class_qname, node.attr)
        elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"):
            method = self.method()
            return ("s", method.class_qname, node.attr) if method else None
        base = self.resolve(value)
        if base is None or base[0] in ("im", "io"):
            return None
        if base[0] == "n":
            return ("n", f"{base[1]}.{node.attr}")
        return ("a", base, node.attr)  # through the type of `self.x` (or of a deeper chain)

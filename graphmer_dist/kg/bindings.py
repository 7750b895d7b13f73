"""Which names a Python scope binds, found before its body is visited (Python decides scope statically:
a name assigned anywhere in a function is local to all of it).

Only statements are walked (names are bound by statements; a walrus inside an expression is the one
binding missed, which at worst leaves that name unresolved). This halves extraction time compared with
walking every expression node twice.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass(slots=True)
class Bindings:
    imports: dict[str, str] = field(default_factory=dict)
    """Local name → dotted target of an import (`np` → `numpy`, `join` → `os.path.join`)."""
    definitions: set[str] = field(default_factory=set)
    """Names bound by def/class statements."""
    assigned: set[str] = field(default_factory=set)
    """Names bound any other way (assignment, for target, with-as, except-as, del, parameters...)."""
    global_names: set[str] = field(default_factory=set)
    nonlocal_names: set[str] = field(default_factory=set)
    stars: list[str] = field(default_factory=list)
    """Modules imported with `from m import *`."""


def relative_base(module: str, is_package: bool, level: int) -> str:
    """The package a relative import of `level` dots starts from."""
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    return ".".join(parts[: len(parts) - (level - 1)] if level > 1 else parts)


def import_from_target(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = relative_base(module, is_package, node.level)
    return ".".join(p for p in (base, node.module) if p)


def collect(body: list[ast.stmt], module: str, is_package: bool, args: ast.arguments | None = None) -> Bindings:
    """Bindings of one scope whose statements are `body` (nested def/class bodies are not entered)."""
    found = Bindings()
    if args is not None:
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                found.assigned.add(arg.arg)
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(node, found, module, is_package)
        for name in _BODIES.get(type(node), ()):
            stack.extend(getattr(node, name))
    return found


def _targets(node: ast.expr | None, found: Bindings) -> None:
    if isinstance(node, ast.Name):
        found.assigned.add(node.id)
    elif isinstance(node, (ast.Tuple, ast.List)):
        for element in node.elts:
            _targets(element, found)
    elif isinstance(node, ast.Starred):
        _targets(node.value, found)


def _definition(node: ast.FunctionDef | ast.ClassDef, found: Bindings, *_: object) -> None:
    found.definitions.add(node.name)


def _import(node: ast.Import, found: Bindings, *_: object) -> None:
    for alias in node.names:
        if alias.asname:
            found.imports[alias.asname] = alias.name
        else:
            top = alias.name.split(".")[0]
            found.imports[top] = top


def _import_from(node: ast.ImportFrom, found: Bindings, module: str, is_package: bool) -> None:
    target = import_from_target(node, module, is_package)
    for alias in node.names:
        if alias.name == "*":
            found.stars.append(target)
        else:
            found.imports[alias.asname or alias.name] = f"{target}.{alias.name}" if target else alias.name


def _with(node: ast.With, found: Bindings, *_: object) -> None:
    for item in node.items:
        _targets(item.optional_vars, found)


def _match_case(node: ast.match_case, found: Bindings, *_: object) -> None:
    for sub in ast.walk(node.pattern):
        name = getattr(sub, "name", None) or getattr(sub, "rest", None)
        if name:
            found.assigned.add(name)


_HANDLERS = {
    ast.FunctionDef: _definition, ast.AsyncFunctionDef: _definition, ast.ClassDef: _definition,
    ast.Import: _import, ast.ImportFrom: _import_from,
    ast.Assign: lambda n, f, *_: [_targets(t, f) for t in n.targets],
    ast.AnnAssign: lambda n, f, *_: _targets(n.target, f),
    ast.AugAssign: lambda n, f, *_: _targets(n.target, f),
    ast.For: lambda n, f, *_: _targets(n.target, f), ast.AsyncFor: lambda n, f, *_: _targets(n.target, f),
    ast.Delete: lambda n, f, *_: [_targets(t, f) for t in n.targets],
    ast.With: _with, ast.AsyncWith: _with,
    ast.ExceptHandler: lambda n, f, *_: n.name and f.assigned.add(n.name),
    ast.Global: lambda n, f, *_: f.global_names.update(n.names),
    ast.Nonlocal: lambda n, f, *_: f.nonlocal_names.update(n.names),
    ast.match_case: _match_case,
}
"""Statement type → how it binds names."""

_BODIES: dict[type, tuple[str, ...]] = {
    ast.If: ("body", "orelse"), ast.For: ("body", "orelse"), ast.AsyncFor: ("body", "orelse"),
    ast.While: ("body", "orelse"), ast.With: ("body",), ast.AsyncWith: ("body",),
    ast.Try: ("body", "handlers", "orelse", "finalbody"), ast.ExceptHandler: ("body",),
    ast.Match: ("cases",), ast.match_case: ("body",),
}
"""Compound statement type → fields holding nested statements of the same scope."""
if hasattr(ast, "TryStar"):  # Python ≥ 3.11
    _BODIES[ast.TryStar] = _BODIES[ast.Try]

"""Which names a Python scope binds, found before its body is visited (Python decides scope statically:
a name assigned anywhere in a function is local to all of it)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                  ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(slots=True)
class Bindings:
    imports: dict[str, str] = field(default_factory=dict)
    """Local name → dotted target of an import (`np` → `numpy`, `join` → `os.path.join`)."""
    definitions: set[str] = field(default_factory=set)
    """Names bound by def/class statements."""
    assigned: set[str] = field(default_factory=set)
    """Names bound any other way (assignment, for target, with-as, except-as, del...)."""
    global_names: set[str] = field(default_factory=set)
    nonlocal_names: set[str] = field(default_factory=set)
    stars: list[str] = field(default_factory=list)
    """Modules imported with `from m import *`."""
    has_yield: bool = False


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
    """Bindings of one scope whose statements are `body` (nested scopes are not entered)."""
    found = Bindings()
    if args is not None:
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                found.assigned.add(arg.arg)
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _NESTED_SCOPES):
            _bind_nested(node, found, stack)
            continue
        _bind(node, found, module, is_package)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _bind_nested(node: ast.AST, found: Bindings, stack: list[ast.AST]) -> None:
    """A nested def/class binds its name here; decorators, defaults and bases are evaluated here too,
    but none of them contain bindings worth tracking, so only the name is recorded."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        found.definitions.add(node.name)
    elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        # the first iterable is evaluated in this scope and may hold a walrus or a yield
        stack.append(node.generators[0].iter)


def _bind(node: ast.AST, found: Bindings, module: str, is_package: bool) -> None:
    if isinstance(node, ast.Name):
        if not isinstance(node.ctx, ast.Load):
            found.assigned.add(node.id)
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                found.imports[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                found.imports[top] = top
    elif isinstance(node, ast.ImportFrom):
        target = import_from_target(node, module, is_package)
        for alias in node.names:
            if alias.name == "*":
                found.stars.append(target)
            else:
                found.imports[alias.asname or alias.name] = f"{target}.{alias.name}" if target else alias.name
    elif isinstance(node, ast.Global):
        found.global_names.update(node.names)
    elif isinstance(node, ast.Nonlocal):
        found.nonlocal_names.update(node.names)
    elif isinstance(node, ast.ExceptHandler) and node.name:
        found.assigned.add(node.name)
    elif isinstance(node, (ast.Yield, ast.YieldFrom)):
        found.has_yield = True
    elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        found.assigned.add(node.name)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        found.assigned.add(node.rest)

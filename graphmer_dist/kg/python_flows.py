"""Turn Python expressions and assignments into value-flow records (`RawFile.flows` / `sites`).

A worker sees one file, so it cannot tell what `g` holds in `def f(g): g()`. It records where values
go instead (`x = y`, arguments, returns, container elements) as expressions over references, and
`points_to.py` follows them across the corpus. Anything that cannot carry a function, class, instance
or container (a constant, arithmetic, a comparison) becomes None and is never recorded.
"""

from __future__ import annotations

import ast

from graphmer_dist.kg.raw import Expr, RawFile
from graphmer_dist.kg.scopes import ScopeStack

MAX_DEPTH = 24
"""Deeper expressions (`a.b.b.b...` 10,000 times, generated code) carry no value: a bounded cost per file."""

CONTAINER_STORES = {"append": 0, "add": 0, "insert": 1, "appendleft": 0}
"""Methods that store their argument (at this index) into a list/set/deque without a known key."""
CONTAINER_MERGES = ("extend", "update")
_SAME_ELEMENTS = frozenset({"builtins.iter", "builtins.list", "builtins.tuple", "builtins.sorted",
                            "builtins.reversed", "builtins.set", "builtins.frozenset"})
"""Builtins whose result holds the elements of their argument (followed as the argument itself)."""


class FlowRecorder:
    raw: RawFile
    stack: ScopeStack
    heads: list[str]
    module: str

    # ---- expressions ---------------------------------------------------------------------------
    def expr(self, node: ast.expr | None, depth: int = 0) -> Expr | None:
        if node is None or depth > MAX_DEPTH:
            return None
        handler = _EXPRS.get(type(node))
        return handler(self, node, depth + 1) if handler is not None else None

    def _name(self, node: ast.Name, depth: int) -> Expr | None:
        method = self.stack.method()
        if method is not None and method.self_name and node.id == method.self_name:
            value = ("f|" if "c" in method.flags else "i|") + method.class_qname
            return ("p0", value, f"{method.qname}.{method.self_name}")
        return self.stack.lookup(node.id)

    def _attribute(self, node: ast.Attribute, depth: int) -> Expr | None:
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super":
            method = self.stack.method()
            return ("s", method.class_qname, node.attr) if method else None
        base = self.expr(value, depth)
        if base is None:
            return None
        if base[0] == "n":
            return ("n", f"{base[1]}.{node.attr}")  # resolved statically where the name allows
        return ("a", base, node.attr)

    def _call(self, node: ast.Call, depth: int) -> Expr | None:
        callee = self.expr(node.func, depth)
        if callee is None:
            return None
        builtin = callee[1] if callee[0] == "n" and callee[1].startswith("builtins.") else ""
        if builtin and node.args and not isinstance(node.args[0], ast.Starred):
            first = self.expr(node.args[0], depth)
            if builtin == "builtins.next":
                return ("it", first) if first is not None else None
            if builtin in _SAME_ELEMENTS:  # the elements, and a `builtins.list` whose methods are calls too
                return ("u", first, ("c", callee)) if builtin != "builtins.iter" else first
            if builtin == "builtins.getattr" and len(node.args) >= 2 and first is not None:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    return ("a", first, name.value)
        return ("c", callee)

    def _container(self, node: ast.List | ast.Tuple | ast.Set, depth: int) -> Expr:
        site = self._site_id(node)
        keyed = not isinstance(node, ast.Set)
        for index, element in enumerate(node.elts):
            if isinstance(element, ast.Starred):
                self.flow(("sub", ("v", site), None), ("sub", self.expr(element.value, depth), None))
                keyed = False
                continue
            self.flow(("sub", ("v", site), repr(index) if keyed else None), self.expr(element, depth))
        return ("v", site)

    def _dict(self, node: ast.Dict, depth: int) -> Expr:
        site = self._site_id(node)
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**other}
                self.flow(("sub", ("v", site), None), ("sub", self.expr(value, depth), None))
            else:
                self.flow(("sub", ("v", site), _constant_key(key)), self.expr(value, depth))
        return ("v", site)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp, depth: int) -> Expr:
        return self._container_of(node, "elt", depth)

    def _dict_comprehension(self, node: ast.DictComp, depth: int) -> Expr:
        return self._container_of(node, "value", depth)

    def _container_of(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, field: str,
                      depth: int) -> Expr:
        """The element expression is evaluated in the comprehension's own scope, which the visitor opens;
        it calls `comprehension_element` there."""
        return ("v", self._site_id(node))

    def comprehension_element(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        element = node.value if isinstance(node, ast.DictComp) else node.elt
        self.flow(("sub", ("v", self._site_id(node)), None), self.expr(element))

    def _subscript(self, node: ast.Subscript, depth: int) -> Expr | None:
        base = self.expr(node.value, depth)
        if base is None:
            return None
        key = "slice" if isinstance(node.slice, ast.Slice) else _constant_key(node.slice)
        return ("sub", base, key)

    def _either(self, node: ast.BoolOp | ast.IfExp, depth: int) -> Expr | None:
        parts = node.values if isinstance(node, ast.BoolOp) else (node.body, node.orelse)
        found = tuple(e for e in (self.expr(p, depth) for p in parts) if e is not None)
        return None if not found else found[0] if len(found) == 1 else ("u", *found)

    def _through(self, node: ast.Await | ast.NamedExpr | ast.Starred, depth: int) -> Expr | None:
        return self.expr(node.value, depth)

    def _lambda(self, node: ast.Lambda, depth: int) -> Expr:
        return ("v", "f|" + self.lambda_name(node))

    def _site_id(self, node: ast.AST) -> str:
        return f"k|{self.module}:{node.lineno}:{node.col_offset}"

    def lambda_name(self, node: ast.Lambda) -> str:
        """`<lambdaN>` numbered in order within the enclosing definition (the name call-graph tools use)."""
        names = self.lambdas
        key = (node.lineno, node.col_offset)
        if key not in names:
            head = self.heads[-1]
            count = self.lambda_counts[head] = self.lambda_counts.get(head, 0) + 1
            names[key] = f"{head}.<lambda{count}>"
        return names[key]

    # ---- records -------------------------------------------------------------------------------
    def flow(self, target: Expr | None, value: Expr | None) -> None:
        if target is not None and value is not None and (target[0] != "sub" or target[1] is not None):
            self.raw.flows.append((target, value))

    def assign(self, target: ast.expr, value: Expr | None, value_node: ast.expr | None = None) -> None:
        """`target = value`, unpacking tuples element by element where the value is a literal."""
        if value is None:
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            literal = value_node.elts if isinstance(value_node, (ast.Tuple, ast.List)) else None
            if literal is not None and any(isinstance(e, ast.Starred) for e in literal):
                literal = None
            stars = [i for i, t in enumerate(target.elts) if isinstance(t, ast.Starred)]
            if literal is not None and (len(literal) == len(target.elts) if not stars
                                        else len(stars) == 1 and len(literal) >= len(target.elts) - 1):
                self._unpack_literal(target, literal, stars[0] if stars else None)
                return
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    self.assign(element.value, value)  # the rest: a list of the same elements
                else:
                    self.assign(element, ("sub", value, None if stars else repr(index)))
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value)
        else:
            self.flow(self.expr(target), value)

    def _unpack_literal(self, target: ast.Tuple | ast.List, literal: list[ast.expr], star: int | None) -> None:
        """`a, *rest, z = f, g, h, k`: a ← f, z ← k, rest ← a new list [g, h]."""
        after = len(target.elts) - 1 - star if star is not None else 0
        for index, element in enumerate(target.elts):
            if index == star:
                rest = literal[index:len(literal) - after]
                site = self._site_id(element)
                for position, item in enumerate(rest):
                    self.flow(("sub", ("v", site), repr(position)), self.expr(item))
                self.assign(element.value, ("v", site))
            else:
                item = literal[index if star is None or index < star else len(literal) - (len(target.elts) - index)]
                self.assign(element, self.expr(item), item)

    def site(self, kind: str, callee: Expr | None, node: ast.Call | None = None, args: tuple = ()) -> None:
        if callee is None:
            return
        keywords: tuple = ()
        if node is not None:
            args = tuple(("*", self.expr(a.value)) if isinstance(a, ast.Starred) else self.expr(a)
                         for a in node.args)
            keywords = tuple((k.arg, e) for k in node.keywords if (e := self.expr(k.value)) is not None)
            self._container_methods(node, args)
        self.raw.sites.append((self.heads[-1], kind, callee, args, keywords))

    def _container_methods(self, node: ast.Call, args: tuple) -> None:
        """`items.append(f)`, `table.update(other)`, `d.setdefault("k", f)` store into the container."""
        func = node.func
        if not isinstance(func, ast.Attribute) or not args:
            return
        name = func.attr
        if name in CONTAINER_STORES and len(args) > CONTAINER_STORES[name]:
            self.flow(("sub", self.expr(func.value), None), args[CONTAINER_STORES[name]])
        elif name in CONTAINER_MERGES:
            self.flow(("sub", self.expr(func.value), None), ("it", args[0]) if args[0] else None)
        elif name == "setdefault" and len(args) == 2:
            self.flow(("sub", self.expr(func.value), _constant_key(node.args[0])), args[1])


def _constant_key(node: ast.expr) -> str | None:
    return repr(node.value) if isinstance(node, ast.Constant) else None


_EXPRS = {
    ast.Name: FlowRecorder._name, ast.Attribute: FlowRecorder._attribute, ast.Call: FlowRecorder._call,
    ast.List: FlowRecorder._container, ast.Tuple: FlowRecorder._container, ast.Set: FlowRecorder._container,
    ast.Dict: FlowRecorder._dict, ast.ListComp: FlowRecorder._comprehension,
    ast.SetComp: FlowRecorder._comprehension, ast.GeneratorExp: FlowRecorder._comprehension,
    ast.DictComp: FlowRecorder._dict_comprehension, ast.Subscript: FlowRecorder._subscript,
    ast.BoolOp: FlowRecorder._either, ast.IfExp: FlowRecorder._either, ast.Await: FlowRecorder._through,
    ast.NamedExpr: FlowRecorder._through, ast.Starred: FlowRecorder._through, ast.Lambda: FlowRecorder._lambda,
}
"""Expression type → how it becomes an `Expr` (any other type carries no value we follow)."""

"""Walk one parsed Python file and record definitions, references and mentions into a `RawFile`.

Mentions are recorded for every definition name and every reference that might resolve; linking drops
those that do not. Facts are recorded against the innermost function, class or module ("the head").
"""

from __future__ import annotations

import ast

from graphmer_dist.kg import bindings, scopes
from graphmer_dist.kg.python_base import VisitorBase
from graphmer_dist.kg.python_flows import FlowRecorder
from graphmer_dist.kg.raw import Expr, Ref

_ITERATOR_TYPES = ("Iterator", "Iterable", "Generator", "AsyncIterator", "AsyncIterable", "AsyncGenerator")
_MARKER_DECORATORS = frozenset({"staticmethod", "classmethod", "property", "abstractmethod"})
"""Decorators that only mark a function (no call of them is worth an edge; the function stays callable)."""


class PythonVisitor(VisitorBase, FlowRecorder):
    # ---- entry ---------------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        self.lambdas: dict[tuple[int, int], str] = {}
        self.lambda_counts: dict[str, int] = {}
        found = bindings.collect(tree.body, self.module, self.is_package)
        scope = scopes.module_scope(self.module, found)
        self.stack.scopes.append(scope)
        self.raw.stars.extend(found.stars)
        self.raw.aliases.update({f"{self.module}.{n}": t for n, t in found.imports.items()})
        for name in sorted(found.assigned - found.definitions - found.imports.keys()):
            self._declare(f"{self.module}.{name}", "variable", self.module)
        for stmt in tree.body:
            self.visit(stmt)

    # ---- definitions ---------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        parent = self.stack.scopes[-1]
        qname = f"{self.heads[-1]}.{node.name}"
        is_method = parent.kind == "class"
        self._declare(qname, "method" if is_method else "function", self.heads[-1])
        self._mention_definition(node, "def", ("n", qname))
        self._decorators(node, qname, parent.qname if is_method else "")
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        found = bindings.collect(node.body, self.module, self.is_package, node.args)
        flags = "".join(sorted({"s" if n == "staticmethod" else "c" for n in _decorator_names(node)
                                if n in ("staticmethod", "classmethod")}))
        self_name = _self_name(node) if is_method else ""
        scope = scopes.function_scope(qname, self.module, found, parent.qname if is_method else "", self_name,
                                      flags)
        self._parameter_flows(node.args, scope)
        for name in scopes.function_locals(found):
            self._declare(f"{qname}.{name}", "variable", qname)
        for name in sorted(found.global_names & found.assigned):  # `global X; X = ...` creates X
            self._declare(f"{self.module}.{name}", "variable", self.module)
        self.stack.scopes.append(scope)
        self.heads.append(qname)
        self._annotations(node)
        if self.is_test and node.name.startswith("test"):
            self.raw.test_functions.append(qname)
        for stmt in node.body:
            self.visit(stmt)
        if qname in self.generators and node.returns is not None:
            element = _iterator_element(node.returns)
            if element is not None:
                self._type_names(element, "yield_type", mention=False)
        elif node.returns is not None:
            self.flow(("node", f"^ret|{qname}"), _instance_of(self.expr(_unwrap_optional(node.returns))))
        self.heads.pop()
        self.stack.scopes.pop()
        self._function_info(qname, node.args, flags + ("g" if qname in self.generators else ""))

    visit_AsyncFunctionDef = visit_FunctionDef

    def _function_info(self, qname: str, args: ast.arguments, flags: str) -> None:
        self.raw.functions[qname] = (
            tuple(a.arg for a in (*args.posonlyargs, *args.args)), args.vararg.arg if args.vararg else "",
            tuple(a.arg for a in args.kwonlyargs), args.kwarg.arg if args.kwarg else "", flags)

    def _parameter_flows(self, args: ast.arguments, scope: scopes.Scope) -> None:
        """Defaults and annotations give parameters values before any caller does (evaluated outside)."""
        positional = (*args.posonlyargs, *args.args)
        pairs = [*zip(positional[len(positional) - len(args.defaults):], args.defaults),
                 *zip(args.kwonlyargs, args.kw_defaults)]
        for arg, default in pairs:
            if default is not None and arg.arg in scope.names and scope.names[arg.arg]:
                self.flow(scope.names[arg.arg], self.expr(default))
        for arg in (*positional, *args.kwonlyargs):
            if arg.annotation is not None and scope.names.get(arg.arg):
                self.flow(scope.names[arg.arg], _instance_of(self.expr(_unwrap_optional(arg.annotation))))

    def _decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, qname: str,
                    owner_class: str) -> None:
        """`@d` is recorded as `annotated_with`, and as what it is at run time: the defining scope calls
        `d(func)`, and the name `func` then holds whatever that returns."""
        value: Expr = ("v", "f|" + qname)
        modelled = False
        for decorator in reversed(node.decorator_list):
            ref = self.reference(decorator.func if isinstance(decorator, ast.Call) else decorator, "decorator",
                                 head=qname)
            if owner_class and ref and ref[-1].endswith("abstractmethod"):
                self.raw.abstract.add(owner_class)
            if isinstance(decorator, ast.Call):
                self.visit(decorator)  # the decorator factory call `d(arg)` is a call site of its own
            if _last_name(decorator) in _MARKER_DECORATORS:
                continue
            callee = self.expr(decorator)
            self.site("c", callee, args=(value,))
            value, modelled = (("c", callee), True) if callee is not None else (value, modelled)
        if modelled:
            self.flow(("node", qname), value)
            self.raw.decorated.append(qname)

    def _annotations(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                    node.args.vararg, node.args.kwarg):
            if arg is None:
                continue
            ref = self.stack.lookup(arg.arg)
            if ref is not None:
                start = self.offsets.index(arg.lineno, arg.col_offset)
                self.raw.mentions.append((start, start + len(arg.arg), ref))
            if arg.annotation is not None:
                self._type_names(arg.annotation, "ref")
        if node.returns is not None:
            self._type_names(node.returns, "return_type")

    def _type_names(self, annotation: ast.expr, kind: str, mention: bool = True) -> None:
        """Record every (dotted) name inside a type annotation, including string annotations."""
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                parsed = ast.parse(annotation.value.strip(), mode="eval").body
            except SyntaxError:
                return
            self._type_names(parsed, kind, mention=False)
            return
        for sub in ast.walk(annotation):
            if isinstance(sub, ast.Attribute) or (isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)):
                ref = self.stack.resolve(sub)
                self._fact(kind, ref)
                if mention:
                    self._mention_node(sub, ref)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        qname = f"{self.heads[-1]}.{node.name}"
        self._declare(qname, "class", self.heads[-1])
        self._mention_definition(node, "class", ("n", qname))
        self._decorators(node, qname, "")
        bases = self.raw.bases.setdefault(qname, [])
        for base in node.bases:
            if isinstance(base, ast.Subscript):  # Generic[T], Mapping[str, int]: the base is the outer name
                self.visit(base.slice)
                base = base.value
            ref = self.reference(base, "", head=qname)  # bases are linked from raw.bases
            if ref is not None:
                bases.append(ref)
        for keyword in node.keywords:
            ref = self.reference(keyword.value, "ref", head=qname)
            if keyword.arg == "metaclass" and ref and ref[-1].endswith("ABCMeta"):
                self.raw.abstract.add(qname)
        found = bindings.collect(node.body, self.module, self.is_package)
        self.stack.scopes.append(scopes.class_scope(qname, found))
        self.heads.append(qname)
        for name in sorted(found.assigned - found.definitions - found.imports.keys()):
            self._declare(f"{qname}.{name}", "attribute", qname)
        for stmt in node.body:
            self.visit(stmt)
        for attribute in self.instance_attributes.pop(qname, ()):
            self._declare(f"{qname}.{attribute}", "attribute", qname)
        self.heads.pop()
        self.stack.scopes.pop()

    # ---- references ----------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        ref = self.stack.lookup(node.id)
        if self.stack.is_own(node.id):
            pass  # a function's own locals, a module's or class body's own variables: no relation
        elif isinstance(node.ctx, ast.Load):
            self._fact("ref", ref)
        elif self.stack.scopes[-1].kind == "function":
            self._fact("write", ref)  # global/nonlocal targets
        self._mention_node(node, ref)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        ref = self.stack.resolve(node)
        if isinstance(node.ctx, ast.Load):
            self._fact("ref", ref)
        elif ref is not None:
            if ref[0] == "m":  # declared after the class body, so a method of that name wins
                self.instance_attributes.setdefault(ref[1], []).append(ref[2])
            self._fact("write", ref)
        self._mention_node(node, ref)
        self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        value = self.expr(node.value)
        for target in node.targets:
            self.assign(target, value, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.assign(node.target, self.expr(node.value), node.value)
        else:
            self.flow(self.expr(node.target), _instance_of(self.expr(_unwrap_optional(node.annotation))))
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.assign(node.target, self.expr(node.value), node.value)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        iterated = self.expr(node.iter)
        if iterated is not None:
            self.assign(node.target, ("it", iterated))
            self.site("i", iterated)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                entered = self.expr(item.context_expr)
                self.assign(item.optional_vars, ("enter", entered) if entered else None)
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def visit_Call(self, node: ast.Call) -> None:
        self.site("c", self.expr(node.func), node)
        func = node.func
        if isinstance(func, (ast.Name, ast.Attribute)):
            self._mention_node(func, self.stack.resolve(func))
            if isinstance(func, ast.Attribute):
                self.visit(func.value)
        else:
            self.visit(func)
        for arg in (*node.args, *node.keywords):
            self.visit(arg)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc
        if isinstance(exc, ast.Call):
            self._fact("raise", self.stack.resolve(exc.func))
            self.visit(exc)
        elif exc is not None:
            self.reference(exc, "raise")
            self.site("r", self.expr(exc))  # `raise Error` instantiates Error
        if node.cause is not None:
            self.visit(node.cause)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type] if node.type else []
        for exc_type in types:
            self.reference(exc_type, "catch")
        for stmt in node.body:
            self.visit(stmt)

    def visit_Return(self, node: ast.Return) -> None:
        if isinstance(node.value, ast.Call):
            self._fact("return_value", self.stack.resolve(node.value.func))
        self.flow(("node", f"^ret|{self.heads[-1]}"), self.expr(node.value))
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        self.generators.add(self.heads[-1])
        if isinstance(node, ast.Yield) and isinstance(node.value, ast.Call):
            self._fact("yield_value", self.stack.resolve(node.value.func))
        value = self.expr(node.value)
        self.flow(("node", f"^yield|{self.heads[-1]}"), ("it", value) if isinstance(node, ast.YieldFrom) and value
                  else value)
        self.generic_visit(node)

    visit_YieldFrom = visit_Yield

    def visit_Constant(self, node: ast.Constant) -> None:
        pass  # nothing to record; skipping the generic walk saves time on literal-heavy files

    # ---- imports -------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            ref = ("im", alias.name)
            self._fact("import", ref, head=self.module)
            start = self.offsets.index(alias.lineno, alias.col_offset)
            self.raw.mentions.append((start, start + len(alias.name), ref))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        target = bindings.import_from_target(node, self.module, self.is_package)
        self._fact("import", ("im", target), head=self.module)
        for alias in node.names:
            if alias.name == "*":
                continue
            dotted = f"{target}.{alias.name}" if target else alias.name
            self._fact("import", ("io", dotted), head=self.module)
            start = self.offsets.index(alias.lineno, alias.col_offset)
            self.raw.mentions.append((start, start + len(alias.name), ("n", dotted)))

    # ---- scopes without a head of their own ----------------------------------------------------
    def visit_Lambda(self, node: ast.Lambda) -> None:
        """A lambda is a function entity `<lambdaN>` of its enclosing definition (a method in a class body)."""
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        qname = self.lambda_name(node)
        in_class = self.stack.scopes[-1].kind == "class"
        self._declare(qname, "method" if in_class else "function", self.heads[-1])
        start = self.offsets.index(node.lineno, node.col_offset)
        self.raw.mentions.append((start, start + len("lambda"), ("n", qname)))
        found = bindings.collect([], self.module, self.is_package, node.args)
        scope = scopes.Scope("local", qname, {n: ("l", f"{qname}.{n}") for n in found.assigned})
        self._parameter_flows(node.args, scope)
        self.stack.scopes.append(scope)
        self.heads.append(qname)
        self.flow(("node", f"^ret|{qname}"), self.expr(node.body))
        self.visit(node.body)
        self.heads.pop()
        self.stack.scopes.pop()
        self._function_info(qname, node.args, "")

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        first = node.generators[0]
        self.visit(first.iter)
        outer_iter = self.expr(first.iter)
        prefix = f"{self.heads[-1]}.<{node.lineno}:{node.col_offset}>"
        targets = {n.id: ("l", f"{prefix}.{n.id}") for g in node.generators for n in ast.walk(g.target)
                   if isinstance(n, ast.Name)}
        self.stack.scopes.append(scopes.Scope("local", self.heads[-1], targets))
        for generator in node.generators:
            iterated = outer_iter if generator is first else self.expr(generator.iter)
            self.assign(generator.target, ("it", iterated) if iterated else None)
            for part in (generator.target, *(() if generator is first else (generator.iter,)), *generator.ifs):
                self.visit(part)
        self.comprehension_element(node)
        for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
            self.visit(part)
        self.stack.scopes.pop()

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp


def _self_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    if "staticmethod" in _decorator_names(node):
        return ""
    positional = (*node.args.posonlyargs, *node.args.args)
    return positional[0].arg if positional else ""


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [_last_name(d) for d in node.decorator_list]


def _last_name(node: ast.expr) -> str:
    node = node.func if isinstance(node, ast.Call) else node
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _instance_of(annotation: Expr | None) -> Expr | None:
    """An annotation names a class; the variable holds an instance of it."""
    return ("inst", annotation) if annotation is not None and annotation[0] in ("n", "a") else None


def _unwrap_optional(annotation: ast.expr) -> ast.expr:
    """`Optional[Foo]` and `Foo | None` → `Foo`; anything else unchanged."""
    if isinstance(annotation, ast.Subscript):
        outer = annotation.value
        if (outer.attr if isinstance(outer, ast.Attribute) else getattr(outer, "id", "")) == "Optional":
            return annotation.slice
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        if isinstance(annotation.right, ast.Constant) and annotation.right.value is None:
            return annotation.left
    return annotation


def _iterator_element(annotation: ast.expr) -> ast.expr | None:
    """`Iterator[X]` / `Generator[X, S, R]` → X (the type a generator yields)."""
    if not isinstance(annotation, ast.Subscript):
        return None
    outer = annotation.value
    name = outer.attr if isinstance(outer, ast.Attribute) else getattr(outer, "id", "")
    if name not in _ITERATOR_TYPES:
        return None
    inner = annotation.slice
    return inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner

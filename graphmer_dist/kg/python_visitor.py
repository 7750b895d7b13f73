"""Walk one parsed Python file and record definitions, references and mentions into a `RawFile`.

Mentions are recorded for every definition name and every reference that might resolve; linking drops
those that do not. Facts are recorded against the innermost function, class or module ("the head").
"""

from __future__ import annotations

import ast

from graphmer_dist.kg import bindings, scopes
from graphmer_dist.kg.python_base import VisitorBase
from graphmer_dist.kg.raw import Ref

_ITERATOR_TYPES = ("Iterator", "Iterable", "Generator", "AsyncIterator", "AsyncIterable", "AsyncGenerator")


class PythonVisitor(VisitorBase):
    # ---- entry ---------------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
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
        self_name = _self_name(node) if is_method else ""
        scope = scopes.function_scope(qname, self.module, found, parent.qname if is_method else "", self_name)
        for name in scopes.function_locals(found, self_name):
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
        self.heads.pop()
        self.stack.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, qname: str,
                    owner_class: str) -> None:
        for decorator in node.decorator_list:
            ref = self.reference(decorator, "decorator", head=qname)
            if owner_class and ref and ref[-1].endswith("abstractmethod"):
                self.raw.abstract.add(owner_class)

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
                if ref is not None:
                    self.raw.value_types.append((ref, self.stack.resolve(_unwrap_optional(arg.annotation))))
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
        if isinstance(node.ctx, ast.Load):
            self._fact("ref", ref)
        elif self.stack.scopes[-1].kind == "function":
            self._fact("write", ref)  # own locals are dropped by linking; global/nonlocal targets stay
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

    def visit_Assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) == 1 and isinstance(targets[0], (ast.Name, ast.Attribute)):
            self._value_type(targets[0], node.value, getattr(node, "annotation", None))
        self.generic_visit(node)

    visit_AnnAssign = visit_Assign

    def _value_type(self, target: ast.Name | ast.Attribute, value: ast.expr | None,
                    annotation: ast.expr | None) -> None:
        """Record what is bound to `target`, so `target.attr` can later resolve through its class."""
        owner = self.stack.resolve(target)
        if owner is None or owner[0] not in ("n", "m"):
            return
        if annotation is not None:
            self.raw.value_types.append((owner, self.stack.resolve(_unwrap_optional(annotation))))
        elif isinstance(value, ast.Call):
            self.raw.value_types.append((owner, self.stack.resolve(value.func)))
        elif value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            self.raw.value_types.append((owner, None))  # some other value: the type is unknown

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "super":
            return
        self.reference(node, "call")

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.exc is not None:
            self.reference(node.exc, "raise")
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
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        self.generators.add(self.heads[-1])
        if isinstance(node, ast.Yield) and isinstance(node.value, ast.Call):
            self._fact("yield_value", self.stack.resolve(node.value.func))
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
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        found = bindings.collect([], self.module, self.is_package, node.args)
        self._local_scope(dict.fromkeys(found.assigned), [node.body])

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.visit(node.generators[0].iter)
        targets = {n.id: None for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        parts: list[ast.AST] = [node.generators[0].target, *node.generators[0].ifs]
        for generator in node.generators[1:]:
            parts.extend((generator.target, generator.iter, *generator.ifs))
        parts.extend((node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,))
        self._local_scope(targets, parts)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def _local_scope(self, names: dict[str, Ref | None], parts: list[ast.AST]) -> None:
        self.stack.scopes.append(scopes.Scope("local", self.heads[-1], names))
        for part in parts:
            self.visit(part)
        self.stack.scopes.pop()


def _self_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    if any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list):
        return ""
    positional = (*node.args.posonlyargs, *node.args.args)
    return positional[0].arg if positional else ""


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

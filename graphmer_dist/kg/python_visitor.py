"""Walk one parsed Python file and record definitions, references and mentions into a `RawFile`.

Mentions are recorded for every definition name and every reference that might resolve; linking drops
those that do not. Facts are recorded against the innermost function, class or module ("the head").
"""

from __future__ import annotations

import ast

from graphmer_dist.kg import bindings, scopes
from graphmer_dist.kg.offsets import LineOffsets
from graphmer_dist.kg.raw import RawFile, Ref, is_test_module

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_ITERATOR_TYPES = ("Iterator", "Iterable", "Generator", "AsyncIterator", "AsyncIterable", "AsyncGenerator")


class PythonVisitor(ast.NodeVisitor):
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
        elif self.stack.scopes[-1].kind == "function" and node.id in self.stack.scopes[-1].names:
            ref = self.stack.scopes[-1].names[node.id]
            self._fact("write", ref)
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

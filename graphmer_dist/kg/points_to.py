"""The corpus-wide value flow: which functions, classes, instances and containers each name may hold,
and so which code each call site runs (the way PyCG-style call-graph tools work, on plain `ast`).

Workers record flows (`target ← value`) and call sites as expressions (raw.py). Here every node (an
entity such as a variable, parameter or attribute; a function's return `^ret|f`; a container's elements
`k|site|key`) gets a points-to set of abstract values:

- `f|X`: the object X itself (a function, method, class, module or external name);
- `i|C`: an instance of class C (corpus or external); `b|C|M`: method M bound to an instance of C;
- `k|site`: a list/tuple/set/dict built at `site` (its elements are the nodes `k|site|key`, `|?` all);
  `ks|site` a slice of it (elements known, positions not);
- `g|F`: the generator a call of generator function F returns; `kg|site`, `kv|site`, `ki|site`: the
  bound `get`/`pop`, `values`/`copy`, `items` of a container (`kit|site`: what `items()` returned).

Call sites bind arguments to parameters (`self` to the instance), returns flow back, and a call of a
class runs its `__init__`. The solver is a worklist over constraints that re-runs a constraint when a
node it read grows, so it reaches the least fixpoint; processing is FIFO over inputs sorted by path
and every set is insertion-ordered, so results do not depend on hashing. Bounds keep pathological
corpora finite: at most `MAX_VALUES` values per node and `MAX_STEPS_PER_CONSTRAINT` evaluations per
constraint on average.
"""

from __future__ import annotations

from collections import deque

from graphmer_dist.kg.raw import Expr, RawFile, Ref
from graphmer_dist.kg.resolver import BUILTIN_CLASSES, Resolver

MAX_VALUES = 24
"""Values kept per node; a name that may hold more (a registry of handlers) keeps the first found."""
MAX_STEPS_PER_CONSTRAINT = 12
_EMPTY: dict[str, None] = {}
_CONTAINER_METHODS = {"get": "kg", "pop": "kg", "setdefault": "kg", "values": "kv", "keys": "kv", "copy": "kv",
                      "items": "ki"}
"""Container methods the flow follows: one element (`kg`), the elements again (`kv`), (key, value) pairs (`ki`)."""
_CALLABLE = ("function", "method")
_CLASSES = ("class", "exception")
_NOT_A_BASE = ("builtins.object", "typing.", "typing_extensions.", "abc.ABC")
"""External bases whose members are not worth naming (`self.x()` in `class A(object)` is not object.x)."""


class PointsTo:
    def __init__(self, resolver: Resolver, raws: list[RawFile]) -> None:
        self.r = resolver
        self.entities = resolver.entities
        self.functions: dict[str, tuple] = {}
        self.decorated: dict[str, None] = {}
        self.constraints: list[tuple] = []
        self.edges: dict[tuple[str, str], None] = {}
        """(head, callee entity) for every call the value flow finds (Python only)."""
        for raw in raws:
            self.functions.update(raw.functions)
            self.decorated.update(dict.fromkeys(raw.decorated))
            self.constraints.extend((0, target, value) for target, value in raw.flows)
            self.constraints.extend((1, *site) for site in raw.sites if not self._static_external(site))
        self.pts: dict[str, dict[str, None]] = {}
        self.deps: dict[str, list[int]] = {}
        """Node → the constraints that read it (in first-read order; a re-run may list one again)."""
        self._bound: set[tuple[str, Expr]] = set()
        self._splits: dict[str, tuple[str, list[str]] | None] = {}
        self._objects: dict[str, dict[str, None]] = {}
        self._external_bases: dict[str, str | None] = {}
        self._queue: deque[int] = deque()
        self._queued: list[bool] = []
        self._done: dict[int, set[str]] = {}
        """Site → callee values already called (their edges and argument bindings are recorded)."""
        self._selves: dict[str, str] = {}
        """`self` parameter node → the instance of the method's own class, used when no caller is seen."""
        self.truncated = False
        self.flags = {name: info[4] for name, info in self.functions.items() if info[4]}
        """Function → its flags ("s" staticmethod, "c" classmethod, "g" generator), where it has any."""
        for name, (_, varargs, _, kwargs, _) in self.functions.items():
            if varargs:
                self.pts[f"{name}.{varargs}"] = {f"k|va:{name}": None}
            if kwargs:
                self.pts[f"{name}.{kwargs}"] = {f"k|kw:{name}": None}

    def _static_external(self, site: tuple) -> bool:
        """A call of a name that resolves outside the corpus (`len(x)`, `os.path.join(a, b)`) binds no
        parameter and never changes: record its edge now instead of solving it."""
        head, kind, callee, _, _ = site
        if kind != "c" or callee[0] != "n":
            return False
        entity = self.r.name(callee[1])
        if entity is None or self.entities.get(entity) != "external":
            return False
        self.edges[(head, entity)] = None
        return True

    # ---- solving -------------------------------------------------------------------------------
    def solve(self) -> None:
        self._queue.extend(range(len(self.constraints)))
        self._queued = [True] * len(self.constraints)
        budget = MAX_STEPS_PER_CONSTRAINT * max(len(self.constraints), 1000)
        budget = self._drain(budget)
        # Defaults for what no flow reached, each followed by another round. `self` in a method no
        # seen caller binds is an instance of its own class, filled from the most derived classes up,
        # so `Child().run()` reaching `Base.run` through `Child.go` makes `self.step()` there only
        # `Child.step`. A name whose decorators returned nothing we could follow (external or opaque
        # wrappers) is still the function itself.
        for _ in range(4):
            filled = False
            by_depth: dict[int, list[tuple[str, str]]] = {}
            for node, value in list(self._selves.items()):
                if not self.pts.get(node):
                    by_depth.setdefault(len(self.r.mro(value[2:])), []).append((node, value))
            for depth in sorted(by_depth, reverse=True):
                for node, value in by_depth[depth]:
                    if not self.pts.get(node):
                        self._add(node, {value: None})
                        filled = True
                budget = self._drain(budget)
            for name in self.decorated:
                if not self.pts.get(name):
                    self._add(name, {f"f|{name}": None})
                    filled = True
            if not filled:
                break
            budget = self._drain(budget)

    def _drain(self, budget: int) -> int:
        queue, queued, deps = self._queue, self._queued, self.deps
        while queue:
            if budget <= 0:
                self.truncated = True
                queue.clear()
                break
            budget -= 1
            index = queue.popleft()
            queued[index] = False
            reads: list[str] = []
            constraint = self.constraints[index]
            if constraint[0] == 1:
                self._site(index, constraint, reads)
            else:
                targets = self._targets(constraint[1], reads) if constraint[0] == 0 else (constraint[1],)
                if targets:
                    values = self._carried(self.eval(constraint[2], reads), targets, constraint[2], reads)
                    if values:
                        for target in targets:
                            self._add(target, values)
            for key in reads:
                readers = deps.get(key)
                if readers is None:
                    deps[key] = [index]
                elif readers[-1] != index:  # a constraint reads the same node again each time it runs
                    readers.append(index)
        return budget

    def _carried(self, values: dict[str, None], targets: list[str] | tuple[str, ...], value: Expr,
                 reads: list[str]) -> dict[str, None]:
        """What an assignment carries. Not plain external values (`sys.prefix`, `os.sep`: data, whose
        attributes would name nothing real). And a decorated definition receives its own function or
        functions defined inside the decorator (its wrapper), not the other definitions the same
        decorator was applied to: `@cached` on 200 functions returns each one, but a flow that does
        not tell the applications apart would give each name all 200."""
        kept = {v: None for v in values if not (v.startswith("f|") and self.entities.get(v[2:]) == "external"
                                                and not _class_like(v[2:]))}
        if len(targets) == 1 and targets[0] in self.decorated and value[0] == "c":
            own = targets[0]
            owners = tuple(f"{v.rpartition('|')[2]}." for v in self.eval(value[1], reads))
            kept = {v: None for v in kept if not v.startswith("f|") or v[2:] == own
                    or v[2:] not in self.decorated or v[2:].startswith(owners)}
        return kept

    def _add(self, key: str, values: dict[str, None]) -> None:
        current = self.pts.get(key)
        if current is None:
            current = self.pts[key] = {}
        elif current is values:
            return
        grew = False
        for value in values:
            if value not in current and len(current) < MAX_VALUES:
                current[value] = None
                grew = True
        if grew:
            queued = self._queued
            for index in self.deps.get(key, ()):
                if not queued[index]:
                    queued[index] = True
                    self._queue.append(index)

    def _flow(self, target: str, value: Expr) -> None:
        """A flow found while solving (an argument into a parameter): a new constraint, once."""
        key = (target, value)
        if key not in self._bound:
            self._bound.add(key)
            self.constraints.append((2, target, value))
            self._queued.append(True)
            self._queue.append(len(self.constraints) - 1)

    def _read(self, key: str, reads: list[str]) -> dict[str, None]:
        reads.append(key)
        return self.pts.get(key, _EMPTY)

    # ---- expressions ---------------------------------------------------------------------------
    def eval(self, expr: Expr | None, reads: list[str]) -> dict[str, None]:
        if expr is None:
            return _EMPTY
        tag = expr[0]
        if tag == "n":
            return self._name_values(expr[1], reads)
        if tag in ("l", "node"):
            return self._read(expr[1], reads)
        if tag == "v":
            return {expr[1]: None}
        if tag == "p0":
            self._selves.setdefault(expr[2], expr[1])
            return self._read(expr[2], reads)
        if tag == "a":
            return self._each(self.eval(expr[1], reads), self._attribute, expr[2], reads)
        if tag == "c":
            return self._each(self.eval(expr[1], reads), self._call, None, reads)
        if tag == "s":
            member = self.r.member(expr[1], expr[2], include_self=False)
            if member is None:  # `super().__init__(msg)` in a subclass of Exception runs Exception.__init__
                external = self._external_base(expr[1])
                return self._itself(self.r._external(f"{external}.{expr[2]}")) if external else _EMPTY
            return self._bind_all(self._entity_values(member, reads), expr[1], instance=True)
        if tag == "sub":
            return self._each(self.eval(expr[1], reads), self._subscript, expr[2], reads)
        if tag == "it":
            return self._each(self.eval(expr[1], reads), self._iterate, None, reads)
        if tag == "enter":
            return self._each(self.eval(expr[1], reads), self._enter, None, reads)
        if tag == "inst":
            return self._each(self.eval(expr[1], reads), self._instance, None, reads)
        if tag == "u":
            out: dict[str, None] = {}
            for part in expr[1:]:
                out.update(self.eval(part, reads))
            return out
        if tag == "m":  # a reference `self.x` (refs share the expression tags)
            member = self.r.member(expr[1], expr[2], include_self=True)
            return self._entity_values(member, reads) if member else _EMPTY
        return _EMPTY

    @staticmethod
    def _each(values: dict[str, None], step, arg, reads: list[str]) -> dict[str, None]:
        out: dict[str, None] = {}
        for value in list(values):
            out.update(step(value, arg, reads))
        return out

    def _name_values(self, dotted: str, reads: list[str]) -> dict[str, None]:
        entity = self.r.name(dotted)
        if entity is not None:
            return self._entity_values(entity, reads)
        split = self._split(dotted)
        if split is None:
            return _EMPTY
        values = self._entity_values(split[0], reads)
        for attr in split[1]:
            values = self._each(values, self._attribute, attr, reads)
        return values

    def _split(self, dotted: str) -> tuple[str, list[str]] | None:
        """`car.engine.start` with `car` a variable → ("mod.f.car", ["engine", "start"])."""
        if dotted not in self._splits:
            parts = dotted.split(".")
            self._splits[dotted] = None
            for cut in range(len(parts) - 1, 0, -1):
                prefix = self.r.name(".".join(parts[:cut]))
                if prefix is not None:
                    self._splits[dotted] = (prefix, parts[cut:])
                    break
        return self._splits[dotted]

    def _entity_values(self, entity: str, reads: list[str]) -> dict[str, None]:
        kind = self.entities.get(entity)
        if kind in ("function", "method", "class", "exception"):
            held = self._read(entity, reads)
            if entity in self.decorated:
                return held
            return {**self._itself(entity), **held} if held else self._itself(entity)
        if kind in ("module", "external"):
            return self._itself(entity)
        return self._read(entity, reads)

    def _itself(self, entity: str) -> dict[str, None]:
        """`{"f|entity": None}`, built once per entity (callers never change what they are given)."""
        found = self._objects.get(entity)
        if found is None:
            found = self._objects[entity] = {f"f|{entity}": None}
        return found

    def _attribute(self, value: str, attr: str, reads: list[str]) -> dict[str, None]:
        tag, _, name = value.partition("|")
        if tag not in ("f", "i"):
            return {f"{_CONTAINER_METHODS[attr]}|{name}": None} if tag == "k" and attr in _CONTAINER_METHODS else _EMPTY
        kind = self.entities.get(name)
        if kind in _CLASSES:
            member = self.r.member(name, attr, include_self=True)
            if member is None:
                external = self._external_base(name)
                found = dict(self._read(f"{name}.{attr}", reads))
                if external:
                    found[f"f|{self.r._external(f'{external}.{attr}')}"] = None
                return found
            return self._bind_all(self._entity_values(member, reads), name, instance=tag == "i")
        if kind == "external":
            return {f"f|{self.r._external(f'{name}.{attr}')}": None}
        if kind == "module" and tag == "f":
            entity = self.r.name(f"{name}.{attr}")
            return self._entity_values(entity, reads) if entity else _EMPTY
        return self._read(f"{name}.{attr}", reads)

    def _bind_all(self, values: dict[str, None], cls: str, instance: bool) -> dict[str, None]:
        """Methods looked up on an instance (classmethods also on the class) come back bound to it."""
        out: dict[str, None] = {}
        for value in values:
            if value.startswith("f|") and self.entities.get(value[2:]) == "method":
                flags = self.flags.get(value[2:], "")
                if "c" in flags or (instance and "s" not in flags):
                    out[f"b|{cls}|{value[2:]}"] = None
                    continue
            out[value] = None
        return out

    def _external_base(self, cls: str) -> str | None:
        """The first class outside the corpus in `cls`'s MRO (`threading.Thread`, `builtins.ValueError`):
        where a member the corpus lacks must come from."""
        if cls not in self._external_bases:
            self._external_bases[cls] = next(
                (b for b in self.r.mro(cls)[1:] if b not in self.r.parent and self.entities.get(b) in
                 ("external", "exception") and not b.startswith(_NOT_A_BASE)), None)
        return self._external_bases[cls]

    def _call(self, value: str, _: object, reads: list[str]) -> dict[str, None]:
        tag, _, name = value.partition("|")
        if tag == "b":
            name = name.partition("|")[2]
            tag = "f"
        if tag == "f":
            kind = self.entities.get(name)
            if kind in _CALLABLE:
                flags = self.flags.get(name, "")
                return {f"g|{name}": None} if "g" in flags else self._read(f"^ret|{name}", reads)
            if kind in _CLASSES or (kind == "external" and _class_like(name)):
                return {f"i|{name}": None}
            return _EMPTY
        if tag == "i":
            call = self.r.member(name, "__call__", include_self=True) if self.entities.get(name) in _CLASSES else None
            return self._call(f"b|{name}|{call}", None, reads) if call else _EMPTY
        if tag == "kg":
            return self._read(f"k|{name}|?", reads)
        if tag == "kv":
            return {f"k|{name}": None}
        if tag == "ki":
            return {f"kit|{name}": None}
        return _EMPTY

    def _subscript(self, value: str, key: str | None, reads: list[str]) -> dict[str, None]:
        if value.startswith("ks|"):
            return self._read(f"k|{value[3:]}|?", reads)
        if value.startswith("k|"):
            if key == "slice":
                return {f"ks|{value[2:]}": None}  # a slice: the same elements, positions unknown
            if key is None:
                return self._read(f"{value}|?", reads)
            return {**self._read(f"{value}|{key}", reads), **self._read(f"{value}|*", reads)}
        if value.startswith("i|"):
            return self._dunder_result(value[2:], "__getitem__", reads)
        return _EMPTY

    def _iterate(self, value: str, _: object, reads: list[str]) -> dict[str, None]:
        if value.startswith(("k|", "ks|")):
            return self._read(f"k|{value.partition('|')[2]}|?", reads)
        if value.startswith("g|"):
            return self._read(f"^yield|{value[2:]}", reads)
        if value.startswith("kit|"):
            return {f"ks|{value[4:]}": None}  # `for key, value in d.items()`: pairs of any element
        if value.startswith("i|"):
            out: dict[str, None] = {}
            for iterator in self._dunder_result(value[2:], "__iter__", reads):
                if iterator.startswith("i|"):
                    out.update(self._dunder_result(iterator[2:], "__next__", reads))
                elif iterator.startswith(("g|", "k|")):
                    out.update(self._iterate(iterator, None, reads))
            return out
        return _EMPTY

    def _enter(self, value: str, _: object, reads: list[str]) -> dict[str, None]:
        if value.startswith("i|") and self.entities.get(value[2:]) in _CLASSES:
            return self._dunder_result(value[2:], "__enter__", reads)
        return {value: None}

    def _instance(self, value: str, _: object, reads: list[str]) -> dict[str, None]:
        name = value[2:]
        if value.startswith("f|") and (self.entities.get(name) in _CLASSES or
                                       self.entities.get(name) == "external" and _class_like(name)):
            return {f"i|{name}": None}
        return _EMPTY

    def _dunder_result(self, cls: str, dunder: str, reads: list[str]) -> dict[str, None]:
        if self.entities.get(cls) not in _CLASSES:
            return _EMPTY
        method = self.r.member(cls, dunder, include_self=True)
        return self._call(f"b|{cls}|{method}", None, reads) if method else _EMPTY

    # ---- assignment targets ----------------------------------------------------------------------
    def _targets(self, expr: Expr, reads: list[str]) -> list[str]:
        tag = expr[0]
        if tag in ("node", "l"):
            return [expr[1]]
        if tag == "n":
            entity = self.r.name(expr[1])
            if entity is not None:
                return [entity]
            owner, _, attr = expr[1].rpartition(".")
            if not owner:
                return []
            return [key for v in self._name_values(owner, reads) if (key := self._store_key(v, attr))]
        if tag == "a":
            return [key for v in list(self.eval(expr[1], reads)) if (key := self._store_key(v, expr[2]))]
        if tag == "sub":
            key = expr[2]
            if key == "slice":
                return []
            return [target for v in list(self.eval(expr[1], reads)) if v.startswith("k|")
                    for target in (f"{v}|{key or '*'}", f"{v}|?")]
        return []

    def _store_key(self, value: str, attr: str) -> str | None:
        tag, _, name = value.partition("|")
        if tag not in ("f", "i"):
            return None
        kind = self.entities.get(name)
        if kind in _CLASSES:
            return self.r.member(name, attr, include_self=True) or f"{name}.{attr}"
        if kind == "module":
            return self.r.name(f"{name}.{attr}") or f"{name}.{attr}"
        return f"{name}.{attr}" if kind in _CALLABLE else None

    # ---- call sites ----------------------------------------------------------------------------
    def _site(self, index: int, site: tuple, reads: list[str]) -> None:
        _, head, kind, callee, args, keywords = site
        done = self._done.get(index)
        if done is None:
            done = self._done[index] = set()
        for value in list(self.eval(callee, reads)):
            if value in done:
                continue  # what a callee value calls and binds never changes: once per site is enough
            if kind != "i":
                done.add(value)
            tag, _, name = value.partition("|")
            if kind == "i":
                if tag == "i":
                    self._iteration_edges(head, name, reads)
            elif tag == "f":
                self._call_object(head, kind, name, args, keywords)
            elif kind == "r":
                continue  # `raise error` re-raises an instance: no call
            elif tag == "b":
                cls, _, method = name.partition("|")
                self._call_method(head, cls, method, args, keywords)
            elif tag == "i" and self.entities.get(name) in _CLASSES:
                call = self.r.member(name, "__call__", include_self=True)
                if call and self.entities.get(call) == "method":
                    self._call_method(head, name, call, args, keywords)

    def _call_object(self, head: str, kind: str, name: str, args: tuple, keywords: tuple) -> None:
        entity_kind = self.entities.get(name)
        if entity_kind in _CLASSES:
            self.edges[(head, name)] = None
            init = self.r.member(name, "__init__", include_self=True)
            if init and self.entities.get(init) == "method":
                self._call_method(head, name, init, args, keywords)
        elif kind == "r":
            if entity_kind == "external" and _class_like(name):
                self.edges[(head, name)] = None
        elif entity_kind in _CALLABLE:
            self.edges[(head, name)] = None
            self._bind(name, args, keywords, None)
        elif entity_kind == "external":
            self.edges[(head, name)] = None

    def _call_method(self, head: str, cls: str, method: str, args: tuple, keywords: tuple) -> None:
        self.edges[(head, method)] = None
        flags = self.flags.get(method, "")
        first = None if "s" in flags else f"f|{cls}" if "c" in flags else f"i|{cls}"
        self._bind(method, args, keywords, first)

    def _iteration_edges(self, head: str, cls: str, reads: list[str]) -> None:
        """`for x in obj` calls `obj.__iter__()` and then `__next__()` on what that returns."""
        if self.entities.get(cls) not in _CLASSES:
            return
        iterator = self.r.member(cls, "__iter__", include_self=True)
        if iterator and self.entities.get(iterator) == "method":
            self.edges[(head, iterator)] = None
            for value in list(self._call(f"b|{cls}|{iterator}", None, reads)):
                if value.startswith("i|") and self.entities.get(value[2:]) in _CLASSES:
                    after = self.r.member(value[2:], "__next__", include_self=True)
                    if after and self.entities.get(after) == "method":
                        self.edges[(head, after)] = None

    def _bind(self, function: str, args: tuple, keywords: tuple, first: str | None) -> None:
        info = self.functions.get(function)
        if info is None:
            return
        params, varargs, kwonly, kwargs, _ = info
        index = 0
        if first is not None and params:
            self._add(f"{function}.{params[0]}", {first: None})
            index = 1
        for arg in args:
            if arg is not None and arg[0] == "*":
                break  # positions unknown from here on
            if arg is not None:
                if index < len(params):
                    self._flow(f"{function}.{params[index]}", arg)
                elif varargs:
                    self._flow(f"k|va:{function}|?", arg)
            index += 1
        for name, arg in keywords:
            if name is None:
                continue
            if name in params or name in kwonly:
                self._flow(f"{function}.{name}", arg)
            elif kwargs:
                self._flow(f"k|kw:{function}|{name!r}", arg)
                self._flow(f"k|kw:{function}|?", arg)

    # ---- what a reference names (for facts and mentions) ------------------------------------------
    def entity_of(self, ref: Ref) -> str | None:
        """The one entity a reference through variables names (`car.engine` → `Car.engine`), else None."""
        reads: list[str] = []
        if ref[0] == "n":
            split = self._split(ref[1])
            if split is None:
                return None
            values = self._entity_values(split[0], reads)
            for attr in split[1][:-1]:
                values = self._each(values, self._attribute, attr, reads)
            attr = split[1][-1]
        elif ref[0] == "a":
            values, attr = self.eval(ref[1], reads), ref[2]
        else:
            return None
        found = {m for v in values if (m := self._member_entity(v, attr))}
        return found.pop() if len(found) == 1 else None

    def _member_entity(self, value: str, attr: str) -> str | None:
        tag, _, name = value.partition("|")
        if tag not in ("f", "i"):
            return None
        kind = self.entities.get(name)
        if kind in _CLASSES:
            member = self.r.member(name, attr, include_self=True)
            external = None if member else self._external_base(name)
            return member or (self.r._external(f"{external}.{attr}") if external else None)
        if kind == "external":
            return self.r._external(f"{name}.{attr}")
        if kind == "module":
            return self.r.name(f"{name}.{attr}")
        return None


def _class_like(name: str) -> bool:
    """An external name that is probably a class: `Thread`, `builtins.dict` (not `numpy.zeros`)."""
    last = name.rpartition(".")[2]
    return last[:1].isupper() or (name.startswith("builtins.") and last in BUILTIN_CLASSES)

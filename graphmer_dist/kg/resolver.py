"""Corpus-wide name resolution: turn a worker's references into qualified entity names.

Knows every definition of the corpus, each module's import aliases (to follow re-exports such as
`from .decoder import JSONDecoder` in `json/__init__.py`) and each class's bases (to find `self.m`
through inheritance, in C3 order). Names rooted outside the corpus become `external` entities; builtin
exceptions become `exception` entities (`builtins.ValueError`); builtin classes (`builtins.dict`) and
builtin functions (`builtins.len`) are `external`.

Resolution here is static: a name reached through a variable (`car.engine.start`) is left to the value
flow (`points_to.py`), which the `dynamic` hook asks once it has run.
"""

from __future__ import annotations

import builtins
from typing import Callable

from graphmer_dist.kg.raw import RawFile, Ref

_MAX_ALIAS_HOPS = 8
_PRIORITY = {"class": 3, "function": 2, "method": 2, "attribute": 1, "variable": 1}
BUILTIN_EXCEPTIONS = frozenset(n for n, v in vars(builtins).items()
                               if isinstance(v, type) and issubclass(v, BaseException))
BUILTIN_CLASSES = frozenset(n for n, v in vars(builtins).items() if isinstance(v, type)) - BUILTIN_EXCEPTIONS
BUILTIN_FUNCTIONS = frozenset(n for n, v in vars(builtins).items()
                              if callable(v) and not isinstance(v, type) and not n.startswith("_"))


class Resolver:
    def __init__(self, raws: list[RawFile]) -> None:
        self.entities: dict[str, str] = {}
        self.parent: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        self.stars: dict[str, list[str]] = {}
        self.base_refs: dict[str, list[Ref]] = {}
        self.external_modules: set[str] = set()
        """External names known to be modules (imported by name), which `uses` never points at."""
        for raw in raws:
            self.entities[raw.source.module] = "module"
        for raw in raws:
            for qname, kind, parent in raw.definitions:
                # a name defined twice (`def X` in one branch, `class X` in another) keeps the kind
                # that can own members, so its members' triples stay well-typed
                if _PRIORITY[kind] > _PRIORITY.get(self.entities.get(qname, ""), -1):
                    self.entities[qname] = kind
                self.parent.setdefault(qname, parent)
            self.aliases.update(raw.aliases)
            self.stars[raw.source.module] = raw.stars
            for cls, refs in raw.bases.items():
                self.base_refs.setdefault(cls, refs)
        self.top_level = {name.split(".")[0] for name, kind in self.entities.items() if kind == "module"}
        self._names: dict[str, str | None] = {}
        self._refs: dict[Ref, str | None] = {}
        self._bases: dict[str, list[str]] = {}
        self._mros: dict[str, list[str]] = {}
        self._members: dict[tuple[str, str, bool], str | None] = {}
        self._modules: dict[str, str] = {}
        self.dynamic: Callable[[Ref], str | None] | None = None
        """Set by the value flow once solved: the entity a reference through variables names, if one."""
        self._mark_dynamic_classes()
        self._mark_exceptions()

    # ---- references ----------------------------------------------------------------------------
    def resolve(self, ref: Ref) -> str | None:
        """The entity a reference names, or None. Memoised: a corpus repeats the same references often."""
        try:
            return self._refs[ref]
        except KeyError:
            result = self._refs[ref] = self._resolve(ref)
            return result

    def _resolve(self, ref: Ref) -> str | None:
        tag = ref[0]
        if tag == "n":
            found = self.name(ref[1])
            return found if found is not None or self.dynamic is None else self.dynamic(ref)
        if tag == "m":
            return self.member(ref[1], ref[2], include_self=True)
        if tag == "s":
            return self.member(ref[1], ref[2], include_self=False)
        if tag == "a":
            return self.dynamic(ref) if self.dynamic is not None else None
        if tag == "l":
            return None
        if tag == "jt":
            return self.java_type(ref[1])
        if tag == "jm":
            return self.java_member(ref[1:3], ref[3])
        module = ref[1]
        if self.entities.get(module) == "module":
            return module
        if tag == "im" and module and module.split(".")[0] not in self.top_level:
            self.external_modules.add(module)
            return self._external(module)
        return None

    def java_type(self, dotted: str) -> str | None:
        """`a.b.Foo` names class Foo of file a/b/Foo.java, i.e. entity `a.b.Foo.Foo`."""
        for candidate in (f"{dotted}.{dotted.rpartition('.')[2]}", dotted):
            if self.entities.get(candidate) in ("class", "exception"):
                return candidate
        return None if dotted.split(".")[0] in self.top_level else self._external(dotted)

    def java_member(self, type_ref: Ref, member: str) -> str | None:
        cls = self.resolve(type_ref)
        kind = self.entities.get(cls or "")
        if kind in ("class", "exception"):
            return self.member(cls, member, include_self=True)
        return self._external(f"{cls}.{member}") if kind == "external" else None

    def name(self, dotted: str) -> str | None:
        if dotted in self._names:
            return self._names[dotted]
        self._names[dotted] = None  # guards against alias cycles while resolving
        result = self._name(dotted, 0)
        self._names[dotted] = result
        return result

    def _name(self, dotted: str, hops: int) -> str | None:
        if dotted in self.entities:
            return dotted
        if dotted in self.aliases and self.aliases[dotted] != dotted and hops < _MAX_ALIAS_HOPS:
            return self._name(self.aliases[dotted], hops + 1)  # `pkg.Name` re-exported by pkg/__init__
        parts = dotted.split(".")
        if parts[0] == "builtins":
            return self._builtin(parts)
        for cut in range(len(parts) - 1, 0, -1):
            prefix, rest = ".".join(parts[:cut]), parts[cut:]
            if prefix in self.aliases and self.aliases[prefix] != prefix and hops < _MAX_ALIAS_HOPS:
                return self._name(".".join([self.aliases[prefix], *rest]), hops + 1)
            kind = self.entities.get(prefix)
            if kind is not None:
                return self._inside(prefix, kind, rest, hops)
        return None if parts[0] in self.top_level else self._external(dotted)

    def _inside(self, prefix: str, kind: str, rest: list[str], hops: int) -> str | None:
        """`prefix` is a known entity and `rest` names something inside it."""
        if kind == "external":  # `math` is imported but not in the corpus, so `math.sqrt` is external too
            return self._external(".".join([prefix, *rest]))
        if kind in ("class", "exception") and len(rest) == 1:
            return self.member(prefix, rest[0], include_self=True)
        if kind == "module" and len(rest) == 1 and hops < _MAX_ALIAS_HOPS:
            for star in self.stars.get(prefix, ()):
                found = self._name(f"{star}.{rest[0]}", hops + 1)
                if found:
                    return found
        return None

    def _builtin(self, parts: list[str]) -> str | None:
        if len(parts) != 2:
            return None
        dotted = ".".join(parts)
        if parts[1] in BUILTIN_EXCEPTIONS:
            self.entities[dotted] = "exception"
            return dotted
        return self._external(dotted) if parts[1] in BUILTIN_CLASSES or parts[1] in BUILTIN_FUNCTIONS else None

    def _external(self, dotted: str) -> str:
        self.entities.setdefault(dotted, "external")
        return dotted

    # ---- classes -------------------------------------------------------------------------------
    def bases(self, cls: str) -> list[str]:
        """Resolved direct bases of `cls` (a class never counts as its own base)."""
        if cls not in self._bases:
            self._bases[cls] = []  # cycle guard
            resolved = (self.resolve(ref) for ref in self.base_refs.get(cls, ()))
            self._bases[cls] = [b for b in dict.fromkeys(resolved) if b and b != cls]
        return self._bases[cls]

    def mro(self, cls: str) -> list[str]:
        """`cls` and its ancestors in Python's C3 order (`class D(B, C)` with `B(A)`, `C(A)`: D B C A).
        A hierarchy C3 rejects (Python would raise TypeError) or a cycle falls back to depth-first order."""
        if cls in self._mros:
            return self._mros[cls]
        self._mros[cls] = [cls]  # cycle guard: a class reached again while linearising stops here
        bases = self.bases(cls)
        merged = _c3_merge([list(self.mro(b)) for b in bases] + [list(bases)])
        order = list(dict.fromkeys([cls, *merged])) if merged is not None else self._depth_first(cls)
        self._mros[cls] = order
        return order

    def _depth_first(self, cls: str) -> list[str]:
        order: list[str] = []
        stack = [cls]
        while stack:
            current = stack.pop()
            if current in order:
                continue
            order.append(current)
            stack.extend(reversed(self.bases(current)))
        return order

    def member(self, cls: str, attr: str, include_self: bool) -> str | None:
        key = (cls, attr, include_self)
        if key not in self._members:
            candidates = (f"{a}.{attr}" for a in self.mro(cls)[0 if include_self else 1:])
            self._members[key] = next((c for c in candidates if c in self.entities), None)
        return self._members[key]

    def module_of(self, qname: str) -> str:
        """The module an entity is defined in (an external or builtin name is its own "module")."""
        module = self._modules.get(qname)
        if module is None:
            parent = self.parent.get(qname)
            module = qname if parent is None or self.entities.get(qname) == "module" else self.module_of(parent)
            self._modules[qname] = module
        return module

    def _mark_dynamic_classes(self) -> None:
        """A variable used as a base class holds a class built at run time (`Point = namedtuple(...)`)."""
        for cls in [n for n, k in self.entities.items() if k == "class"]:
            for base in self.bases(cls):
                if self.entities.get(base) in ("variable", "attribute"):
                    self.entities[base] = "class"

    def _mark_exceptions(self) -> None:
        """Corpus classes deriving from BaseException get kind `exception`."""
        for cls in [n for n, k in self.entities.items() if k == "class"]:
            if any(self.entities.get(a) == "exception" or a.startswith("builtins.") and
                   a.split(".")[1] in BUILTIN_EXCEPTIONS for a in self.mro(cls)[1:]):
                self.entities[cls] = "exception"


def _c3_merge(sequences: list[list[str]]) -> list[str] | None:
    """The C3 merge: repeatedly take the first head that is in no other sequence's tail."""
    result: list[str] = []
    sequences = [seq for seq in sequences if seq]
    while sequences:
        for seq in sequences:
            head = seq[0]
            if not any(head in other[1:] for other in sequences):
                break
        else:
            return None  # inconsistent hierarchy
        result.append(head)
        sequences = [rest for seq in sequences if (rest := seq[1:] if seq[0] == head else seq)]
    return result

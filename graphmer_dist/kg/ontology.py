"""The GraphMER-SE code ontology for Python: what each relation means and the check that enforces it.

Entity kinds: `module`, `class`, `exception` (a class deriving from BaseException, builtin ones
included as `builtins.ValueError`), `function` (module-level or nested), `method` (defined in a class
body), `attribute` (class-body assignment or `self.x = ...`), `variable` (module-level assignment),
`external` (a dotted name rooted outside the corpus, e.g. `numpy.zeros`, a builtin class such as
`builtins.dict` or a builtin function such as `builtins.len`). Parameters (`self` and `cls`
included) and local variables are `variable`s named `module.func.name`; a lambda is a `function` (a `method` in a class body) named
`<enclosing>.<lambdaN>`, numbered from 1 within its enclosing definition. "code"
below means module | class | exception | function | method: the innermost definition whose body holds
the statement (module-level statements belong to the module). Java and JavaScript (treesitter.py) use
the same kinds and a subset of the relations. Python calls are found by following values
(`points_to.py`): `x.m()` runs `m` of every class whose instances may reach `x` (through assignments,
parameters, returns, attributes, containers, decorators, annotations), `g()` every function `g` may hold.

| relation       | head → tail                                       | meaning |
|----------------|---------------------------------------------------|---------|
| defines        | module → class, exception, function, variable     | top-level definition in the module |
| declares       | class, exception → method, attribute, class, exception | member declared in the class body (attributes also via `self.x = ...`) |
| contains       | module → module; function, method → function, class, exception, variable | package → submodule; nested definition; parameter or local variable |
| defined_in     | any defined entity → its module, class or function | inverse of defines / declares / contains (nested) |
| inherits_from  | class, exception → class, exception, external     | a direct base class |
| implements     | class, exception → class, exception               | a direct base that is abstract (has an @abstractmethod, metaclass=ABCMeta, or derives directly from abc.ABC / typing.Protocol) |
| overrides      | method → method                                   | a class after it in its C3 method resolution order defines a method of the same name |
| calls          | code → function, external                         | calls a function (`f()`, `mod.f()`, or through whatever value reaches the callee: a parameter, a variable, a container element, a decorator's result) or an external name (`len()`, `np.zeros()`) |
| invokes        | code → method                                     | calls a method: `self.m()`, `cls.m()`, `super().m()`, `Class.m()`, `obj.m()` (resolved in C3 order); also `__init__` when it instantiates a class, `__call__` when it calls an instance, `__iter__`/`__next__` when a `for` loop iterates an instance |
| instantiates   | code → class, exception, external                 | calls a class (`Foo()`, `dict()`) or raises one (`raise Error`) |
| imports        | module → module, external                         | an import statement names the module (`from a import b` imports `a`, and `a.b` if b is a module) |
| depends_on     | module → module                                   | code in the head uses an entity defined in the tail module (derived from the other relations, not from imports) |
| uses           | code → class, exception, function, method, external | names it without calling it (isinstance, callbacks, parameter annotations) |
| reads_from     | code → variable, attribute                        | loads a module variable or an attribute (`self.x`, `Class.X`, `mod.CONST`) |
| writes_to      | function, method → variable, attribute            | stores to `self.x`, a `global` variable or `mod.X` |
| returns        | function, method → class, exception, external     | its return annotation names the type, or it returns `Type(...)` |
| raises         | code → class, exception, external                 | `raise X` or `raise X(...)` |
| catches        | code → class, exception, external                 | `except X` / `except (X, Y)` |
| tested_by      | class, exception, function, method → function, method | a test (named test* in a test module) calls / invokes / instantiates it; never the test framework the test is written with (unittest, doctest, pytest) |
| tests          | function, method → class, exception, function, method | inverse of tested_by |
| annotated_with | class, exception, function, method → class, function, method, external | a decorator applied to it |
| produces       | function, method → class, exception, external     | a generator yields `Type(...)` or is annotated `Iterator[Type]` / `Generator[Type, ...]` |

The check also requires inheritance to be acyclic: every inherits_from triple inside a cycle fails.
"""

from __future__ import annotations

from graphmer_dist.kg.types import OntologyReport, Triple

_CODE = frozenset({"module", "class", "exception", "function", "method"})
_CLASSES = frozenset({"class", "exception"})
_CALLABLES = frozenset({"function", "method"})
_TYPES = frozenset({"class", "exception", "external"})
_DEFINED = frozenset({"class", "exception", "function", "method", "attribute", "variable"})
_STATE = frozenset({"variable", "attribute"})
_MAX_LISTED = 20

DOMAIN_RANGE: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "defines": (frozenset({"module"}), frozenset({"class", "exception", "function", "variable"})),
    "declares": (_CLASSES, frozenset({"method", "attribute", "class", "exception"})),
    "contains": (frozenset({"module", "function", "method"}),
                 frozenset({"module", "function", "class", "exception", "variable"})),
    "defined_in": (_DEFINED, frozenset({"module", "class", "exception", "function", "method"})),
    "inherits_from": (_CLASSES, _TYPES),
    "implements": (_CLASSES, _CLASSES),
    "overrides": (frozenset({"method"}), frozenset({"method"})),
    "calls": (_CODE, frozenset({"function", "external"})),
    "invokes": (_CODE, frozenset({"method"})),
    "instantiates": (_CODE, _TYPES),
    "imports": (frozenset({"module"}), frozenset({"module", "external"})),
    "depends_on": (frozenset({"module"}), frozenset({"module"})),
    "uses": (_CODE, frozenset({"class", "exception", "function", "method", "external"})),
    "reads_from": (_CODE, _STATE),
    "writes_to": (_CALLABLES, _STATE),
    "returns": (_CALLABLES, _TYPES),
    "raises": (_CODE, _TYPES),
    "catches": (_CODE, _TYPES),
    "tested_by": (_CLASSES | _CALLABLES, _CALLABLES),
    "tests": (_CALLABLES, _CLASSES | _CALLABLES),
    "annotated_with": (_CLASSES | _CALLABLES, frozenset({"class", "function", "method", "external"})),
    "produces": (_CALLABLES, _TYPES),
}


def check_ontology(triples: list[Triple], entities: dict[str, str]) -> OntologyReport:
    """Count the triples that respect their relation's domain/range and acyclic inheritance."""
    in_cycle = _inheritance_cycles(triples)
    passed, violations = 0, []
    for triple in triples:
        problem = _problem(triple, entities, in_cycle)
        if problem is None:
            passed += 1
        elif len(violations) < _MAX_LISTED:
            violations.append(f"{triple.head} {triple.relation} {triple.tail}: {problem}")
    return OntologyReport(checked=len(triples), passed=passed, violations=violations)


def _problem(triple: Triple, entities: dict[str, str], in_cycle: set[str]) -> str | None:
    if triple.relation not in DOMAIN_RANGE:
        return "unknown relation"
    domain, range_ = DOMAIN_RANGE[triple.relation]
    head_kind, tail_kind = entities.get(triple.head, "unknown"), entities.get(triple.tail, "unknown")
    if head_kind not in domain:
        return f"head kind {head_kind} not in {sorted(domain)}"
    if tail_kind not in range_:
        return f"tail kind {tail_kind} not in {sorted(range_)}"
    if triple.relation == "inherits_from" and triple.head in in_cycle and triple.tail in in_cycle:
        return "inheritance cycle"
    return None


def _inheritance_cycles(triples: list[Triple]) -> set[str]:
    """Classes on an inheritance cycle (including a class inheriting from itself)."""
    bases: dict[str, list[str]] = {}
    for t in triples:
        if t.relation == "inherits_from":
            bases.setdefault(t.head, []).append(t.tail)
    on_cycle: set[str] = set()
    for start in bases:
        if start in on_cycle:
            continue
        seen, stack = set(), list(bases[start])
        while stack:
            current = stack.pop()
            if current == start:
                on_cycle.add(start)
                break
            if current not in seen:
                seen.add(current)
                stack.extend(bases.get(current, ()))
    return on_cycle

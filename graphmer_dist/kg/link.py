"""Turn all files' raw facts into the corpus knowledge graph: entities, triples and mentions.

A fact becomes a relation only once its target's kind is known, e.g. a "call" of a class is
`instantiates`, of a method `invokes`, of a function or external name `calls`. The meaning of each
relation is the table in `ontology.py`.
"""

from __future__ import annotations

from graphmer_dist.kg.points_to import PointsTo
from graphmer_dist.kg.raw import RawFile, is_test_module
from graphmer_dist.kg.resolver import BUILTIN_CLASSES, Resolver
from graphmer_dist.kg.types import FileExtraction, Mention, Triple

TYPES = ("class", "exception", "external")
CALLABLE = ("function", "method")
_TYPING_PREFIXES = ("typing.", "typing_extensions.", "collections.abc.", "builtins.object")
_ABSTRACT_ROOTS = ("abc.ABC", "typing.Protocol", "typing_extensions.Protocol")


def link(raws: list[RawFile]) -> tuple[Resolver, list[Triple], list[FileExtraction]]:
    resolver = Resolver(raws)
    flow = PointsTo(resolver, raws)
    flow.solve()
    resolver.dynamic = flow.entity_of
    triples: set[tuple[str, str, str]] = set()
    _structure(resolver, triples)
    _classes(resolver, raws, triples)
    tests = {name for raw in raws for name in raw.test_functions}
    for raw in raws:
        _facts(resolver, raw, triples, tests)
    for head, tail in flow.edges:
        _add_call(resolver, head, tail, triples, tests)
    _depends_on(resolver, triples)
    files = [_mentions(resolver, raw) for raw in raws]
    return resolver, [Triple._make(t) for t in sorted(triples)], files


def _structure(resolver: Resolver, out: set[tuple[str, str, str]]) -> None:
    """defines / declares / contains / defined_in from where each entity is defined."""
    entities = resolver.entities
    for child, parent in resolver.parent.items():
        parent_kind = entities[parent]
        relation = ("defines" if parent_kind == "module" else
                    "declares" if parent_kind in ("class", "exception") else "contains")
        out.add((parent, relation, child))
        out.add((child, "defined_in", parent))
    for module, kind in list(entities.items()):
        package = module.rpartition(".")[0]
        if kind == "module" and entities.get(package) == "module":
            out.add((package, "contains", module))


def _classes(resolver: Resolver, raws: list[RawFile], out: set[tuple[str, str, str]]) -> None:
    """inherits_from, implements (a base that is abstract) and overrides (a method a base defines)."""
    abstract = set().union(*(raw.abstract for raw in raws)) if raws else set()
    classes = [c for c, k in resolver.entities.items() if k in ("class", "exception") and c in resolver.parent]
    methods_of: dict[str, list[str]] = {}
    for qname, parent in resolver.parent.items():
        if resolver.entities[qname] == "method":
            methods_of.setdefault(parent, []).append(qname)
    for cls in classes:
        for base in resolver.bases(cls):
            out.add((cls, "inherits_from", base))
            if base in abstract or any(a in _ABSTRACT_ROOTS for a in resolver.bases(base)):
                out.add((cls, "implements", base))
        for method in methods_of.get(cls, ()):
            overridden = resolver.member(cls, method.rpartition(".")[2], include_self=False)
            if overridden and resolver.entities[overridden] == "method":
                out.add((method, "overrides", overridden))


def _relation(fact: str, head_kind: str, tail_kind: str, tail: str) -> str | None:
    """The relation a fact becomes, given the kinds at both ends (None = not a relation)."""
    if fact == "call":
        return {"class": "instantiates", "exception": "instantiates", "method": "invokes",
                "function": "calls"}.get(tail_kind) or _external_call(tail_kind, tail)
    if fact == "ref":
        if tail_kind in ("variable", "attribute"):
            return "reads_from"
        return "uses" if tail_kind in ("class", "exception", "function", "method", "external") else None
    if fact == "write":
        return "writes_to" if tail_kind in ("variable", "attribute") and head_kind in CALLABLE else None
    if fact in ("raise", "catch"):
        return ("raises" if fact == "raise" else "catches") if tail_kind in TYPES else None
    if fact == "decorator":
        return "annotated_with" if tail_kind in ("class", "function", "method", "external") else None
    if fact in ("return_type", "return_value", "yield_type", "yield_value"):
        if head_kind not in CALLABLE or tail_kind not in TYPES or tail.startswith(_TYPING_PREFIXES):
            return None
        return "returns" if fact.startswith("return") else "produces"
    if fact == "import":
        return "imports" if tail_kind in ("module", "external") else None
    raise AssertionError(f"unknown fact kind {fact}")


def _external_call(tail_kind: str, tail: str) -> str | None:
    if tail_kind != "external":
        return None
    # the only externals known to be classes are builtin classes (`dict(...)` builds a dict)
    builtin, _, name = tail.partition(".")
    return "instantiates" if builtin == "builtins" and name in BUILTIN_CLASSES else "calls"


def _facts(resolver: Resolver, raw: RawFile, out: set[tuple[str, str, str]], tests: set[str]) -> None:
    """Relations from the references a worker recorded (own locals were never recorded: see
    `ScopeStack.is_own`). A definition naming itself (`f.cache = {}` inside f) says nothing, but a
    recursive call does."""
    entities = resolver.entities
    for head, fact, ref in raw.facts:
        tail = resolver.resolve(ref)
        if tail is None or (tail == head and fact != "call"):
            continue
        relation = _relation(fact, entities[head], entities[tail], tail)
        if relation is None or (relation == "uses" and tail in resolver.external_modules):
            continue
        out.add((head, relation, tail))
        if relation in ("calls", "invokes", "instantiates"):
            _tested(resolver, head, tail, out, tests)


def _add_call(resolver: Resolver, head: str, tail: str, out: set[tuple[str, str, str]], tests: set[str]) -> None:
    """A call the value flow found: `calls` a function, `invokes` a method, `instantiates` a class."""
    relation = _relation("call", resolver.entities[head], resolver.entities.get(tail, ""), tail)
    if relation is not None:
        out.add((head, relation, tail))
        _tested(resolver, head, tail, out, tests)


TEST_FRAMEWORKS = frozenset({"unittest", "doctest", "pytest", "_pytest"})
"""Top-level packages a test is written WITH, not what it tests: `self.assertEqual(...)` in a test of
`shlex` does not test `unittest`. Where the framework is in the corpus (the stdlib has unittest), these
calls were half of all `tested_by` facts (29,793 of 58,291: `assertEqual` alone "tested by" 5,868 tests)
and 18% of the link-prediction test queries. A framework's own tests (`unittest.test.*`) still test it."""


def _tested(resolver: Resolver, head: str, tail: str, out: set[tuple[str, str, str]], tests: set[str]) -> None:
    if (head in tests and tail in resolver.parent and not _in_test_code(resolver, tail)
            and not _test_framework_call(resolver, head, tail)):
        out.add((head, "tests", tail))
        out.add((tail, "tested_by", head))


def _in_test_code(resolver: Resolver, qname: str) -> bool:
    return is_test_module(resolver.module_of(qname))


def _test_framework_call(resolver: Resolver, test: str, tail: str) -> bool:
    """Whether `tail` belongs to a test framework that `test` is not itself part of."""
    package = resolver.module_of(tail).split(".", 1)[0]
    return package in TEST_FRAMEWORKS and resolver.module_of(test).split(".", 1)[0] != package


def _depends_on(resolver: Resolver, out: set[tuple[str, str, str]]) -> None:
    """Module A depends_on module B when code in A uses an entity defined in B (imports alone do not count)."""
    usage = ("calls", "invokes", "instantiates", "uses", "reads_from", "writes_to", "inherits_from",
             "raises", "catches", "annotated_with", "returns", "produces")
    for head, relation, tail in list(out):
        if relation in usage and tail in resolver.parent:
            source, target = resolver.module_of(head), resolver.module_of(tail)
            if source != target:
                out.add((source, "depends_on", target))


def _mentions(resolver: Resolver, raw: RawFile) -> FileExtraction:
    resolve = resolver.resolve
    spans = {(start, end, entity) for start, end, ref in raw.mentions if (entity := resolve(ref)) is not None}
    ordered = [Mention(entity, start, end) for start, end, entity in sorted(spans)]
    return FileExtraction(raw.source, raw.text, ordered)

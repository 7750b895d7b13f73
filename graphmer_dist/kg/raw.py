"""What one file's extraction sends back from a worker process, before corpus-wide linking.

A worker sees one file, so it cannot know whether `np.zeros` or `self.run` names something in the
corpus. It records *references* instead, which `link.py` resolves once every file is known:

- `("n", dotted)`: a dotted name as the file's imports spell it (`np.zeros` → `numpy.zeros`);
- `("m", class, attr)`: `self.attr` / `cls.attr` inside a method of `class` (looked up through bases);
- `("s", class, attr)`: `super().attr` (looked up through the bases of `class`, skipping it);
- `("im", module)`: a module that must exist (an `import` statement);
- `("io", dotted)`: a name that counts as an import only if it is a module (`from pkg import sub`);
- `("a", ref, attr)`: attribute `attr` of whatever `ref` names (`self.engine.start` with a typed
  `self.engine`), found through the value type of that variable or attribute;
- `("jt", dotted)`: a Java type (`a.b.Foo` → class `a.b.Foo.Foo` of file a/b/Foo.java);
- `("jm", tag, value, member)`: a member of the Java type that reference `(tag, value)` names;
- `("l", node)`: a comprehension or lambda local: never an entity, but a node of the value flow.

Values flow through *expressions* (`Expr`, nested tuples that `points_to.py` evaluates once every file
is known). Besides the references above, which evaluate to what they name:

- `("v", value)`: a constant abstract value (`"f|mod.func"` a function, `"k|site"` a container literal);
- `("p0", value, node)`: `self` / `cls` inside a method: `value` (`"i|Class"` / `"f|Class"`) plus
  whatever callers pass as that first parameter (`node`);
- `("a", expr, attr)`, `("c", expr)` (what calling it returns), `("s", class, attr)` (`super().attr`),
  `("sub", expr, key)` (`x[key]`, key a `repr` of a constant, None if unknown, "slice"),
  `("it", expr)` (what iterating it yields), `("enter", expr)` (`with expr as x`), `("inst", expr)`
  (an instance of an annotated class), `("u", expr, ...)` (any of them: `a or b`, `a if c else b`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphmer_dist.kg.types import SourceFile

Ref = tuple[str, ...]
Expr = tuple
"""A value expression (see above); None where the value cannot matter to a call (constants, arithmetic)."""

FACT_KINDS = ("call", "ref", "write", "raise", "catch", "decorator", "return_type", "return_value",
              "yield_type", "yield_value", "import")
"""Fact kinds a worker records; `link.py` turns each into a relation once the target's kind is known
(a "call" of a class is `instantiates`, of a method `invokes`). Python records calls as `sites`
instead, decided by the value flow; Java and JavaScript record "call" facts."""


@dataclass(slots=True)
class RawFile:
    source: SourceFile
    text: str
    definitions: list[tuple[str, str, str]] = field(default_factory=list)
    """(qualified name, kind, parent qualified name) for classes, functions, methods, attributes, variables."""
    bases: dict[str, list[Ref]] = field(default_factory=dict)
    """Class → references to its bases, in order."""
    abstract: set[str] = field(default_factory=set)
    """Classes that declare an @abstractmethod or use metaclass=ABCMeta."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Module-level imports as `module.alias` → dotted target, so re-exports can be followed."""
    stars: list[str] = field(default_factory=list)
    """Modules this module imports with `*`."""
    facts: list[tuple[str, str, Ref]] = field(default_factory=list)
    """(head qualified name, fact kind from FACT_KINDS, reference)."""
    mentions: list[tuple[int, int, Ref]] = field(default_factory=list)
    """(start, end, reference): str spans of `text`."""
    flows: list[tuple[Expr, Expr]] = field(default_factory=list)
    """(target, value): the values of `value` also flow into `target` (an assignment, a return into
    `("node", "^ret|func")`, a container element into `("node", "k|site|key")`...)."""
    sites: list[tuple[str, str, Expr, tuple, tuple]] = field(default_factory=list)
    """(head, kind, callee, positional args, keyword args as (name | None, expr)): kind "c" a call,
    "r" `raise X` (instantiates X if X is a class), "i" a `for` over X (`__iter__` / `__next__`).
    A starred argument is `("*", expr)`."""
    functions: dict[str, tuple] = field(default_factory=dict)
    """Function/method/lambda → (positional parameter names, *args name, keyword-only names, **kwargs
    name, flags): flags has "s" staticmethod, "c" classmethod, "g" generator, "d" decorated by code."""
    decorated: list[str] = field(default_factory=list)
    """Functions and classes whose name holds what their (code) decorators return, not themselves."""
    test_functions: list[str] = field(default_factory=list)
    """Test functions/methods of a test module (named test*)."""


def is_test_module(module: str) -> bool:
    parts = module.split(".")
    last = parts[-1]
    return (any(p in ("test", "tests", "testing") for p in parts) or last.startswith("test_")
            or last.endswith("_test") or last == "conftest")

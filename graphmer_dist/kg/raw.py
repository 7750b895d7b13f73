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
- `("jm", tag, value, member)`: a member of the Java type that reference `(tag, value)` names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphmer_dist.kg.types import SourceFile

Ref = tuple[str, ...]

FACT_KINDS = ("call", "ref", "write", "raise", "catch", "decorator", "return_type", "return_value",
              "yield_type", "yield_value", "import")
"""Fact kinds a worker records; `link.py` turns each into a relation once the target's kind is known
(a "call" of a class is `instantiates`, of a method `invokes`, of a function `calls`)."""


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
    value_types: list[tuple[Ref, Ref | None]] = field(default_factory=list)
    """(variable or attribute reference, reference to what is assigned to it): `x = Foo()` gives the
    callee `Foo`, `x: Foo` the annotation; None for any other value. Linking types a variable only when
    every binding names the same class."""
    test_functions: list[str] = field(default_factory=list)
    """Test functions/methods of a test module (named test*)."""


def is_test_module(module: str) -> bool:
    parts = module.split(".")
    last = parts[-1]
    return (any(p in ("test", "tests", "testing") for p in parts) or last.startswith("test_")
            or last.endswith("_test") or last == "conftest")

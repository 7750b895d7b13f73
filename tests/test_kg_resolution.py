"""Name resolution on small inline sources: aliases, re-exports, star imports, super(), builtins."""

from __future__ import annotations

import textwrap
from pathlib import Path

from graphmer_dist.config import DataConfig
from graphmer_dist.kg import KnowledgeGraph, extract_corpus


def extract(tmp_path: Path, files: dict[str, str]) -> KnowledgeGraph:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return extract_corpus([str(tmp_path)], DataConfig(workers=1))


def triples(graph: KnowledgeGraph, relation: str) -> set[tuple[str, str]]:
    return {(t.head, t.tail) for t in graph.triples if t.relation == relation}


def test_import_aliases_resolve_to_the_real_module(tmp_path):
    graph = extract(tmp_path, {"app.py": """
        import numpy as np
        from os import path as osp

        def run():
            np.zeros(3)
            return osp.join("a", "b")
    """})
    assert triples(graph, "calls") == {("app.run", "numpy.zeros"), ("app.run", "os.path.join")}
    assert triples(graph, "imports") == {("app", "numpy"), ("app", "os")}
    assert graph.entities["numpy.zeros"] == "external"


def test_names_re_exported_by_a_package_resolve_to_their_definition(tmp_path):
    graph = extract(tmp_path, {
        "lib/__init__.py": "from .core import Engine\n",
        "lib/core.py": "class Engine:\n    def start(self):\n        pass\n",
        "main.py": "import lib\nfrom lib import Engine as E\n\ndef go():\n    lib.Engine().start()\n    E.start(None)\n",
    })
    assert triples(graph, "instantiates") == {("main.go", "lib.core.Engine")}
    assert triples(graph, "invokes") == {("main.go", "lib.core.Engine.start")}


def test_star_imports_are_followed(tmp_path):
    graph = extract(tmp_path, {
        "consts.py": "LIMIT = 3\ndef clamp(x):\n    return min(x, LIMIT)\n",
        "use.py": "from consts import *\n\ndef f():\n    return clamp(LIMIT)\n",
    })
    assert ("use.f", "consts.clamp") in triples(graph, "calls")
    assert ("use.f", "consts.LIMIT") in triples(graph, "reads_from")
    assert ("consts.clamp", "consts.LIMIT") in triples(graph, "reads_from")


def test_raise_with_and_without_call_instantiates_and_builtin_functions_are_external(tmp_path):
    graph = extract(tmp_path, {"errs.py": """
        class Bad(Exception):
            pass

        def check(x):
            if x:
                raise Bad
            if len(x) > 3:
                raise KeyError("x")
            print(x)
    """})
    assert triples(graph, "raises") == {("errs.check", "errs.Bad"), ("errs.check", "builtins.KeyError")}
    assert triples(graph, "calls") == {("errs.check", "builtins.len"), ("errs.check", "builtins.print")}
    assert triples(graph, "instantiates") == {("errs.check", "errs.Bad"), ("errs.check", "builtins.KeyError")}
    assert graph.entities["builtins.KeyError"] == "exception"
    assert graph.entities["builtins.len"] == "external"


def test_super_and_overrides_through_two_levels(tmp_path):
    graph = extract(tmp_path, {"h.py": """
        class A:
            def save(self):
                pass

        class B(A):
            pass

        class C(B):
            def save(self):
                super().save()
                def later():
                    return self.save()
                return later
    """})
    assert triples(graph, "overrides") == {("h.C.save", "h.A.save")}
    assert triples(graph, "invokes") == {("h.C.save", "h.A.save"), ("h.C.save.later", "h.C.save")}
    assert triples(graph, "inherits_from") == {("h.B", "h.A"), ("h.C", "h.B")}


def test_relative_imports_from_a_subpackage(tmp_path):
    graph = extract(tmp_path, {
        "p/__init__.py": "",
        "p/a.py": "def f():\n    pass\n",
        "p/sub/__init__.py": "from .. import a\nfrom ..a import f\n",
        "p/sub/b.py": "from ..a import f\nfrom . import c\n\ndef g():\n    f()\n",
        "p/sub/c.py": "X = 1\n",
    })
    assert ("p.sub.b.g", "p.a.f") in triples(graph, "calls")
    assert triples(graph, "imports") >= {("p.sub", "p.a"), ("p.sub.b", "p.a"), ("p.sub.b", "p.sub.c")}


def test_decorators_string_annotations_and_writes(tmp_path):
    graph = extract(tmp_path, {"d.py": """
        import functools

        COUNT = 0

        class Node:
            pass

        def traced(fn):
            return fn

        @traced
        @functools.lru_cache(maxsize=8)
        def build(parent: "Node") -> "Node":
            global COUNT
            COUNT += 1
            return Node()
    """})
    assert triples(graph, "annotated_with") == {("d.build", "d.traced"), ("d.build", "functools.lru_cache")}
    assert triples(graph, "returns") == {("d.build", "d.Node")}
    assert triples(graph, "uses") == {("d.build", "d.Node")}  # the parameter annotation
    assert triples(graph, "writes_to") == {("d.build", "d.COUNT")}


def test_a_variable_used_as_a_base_is_a_class(tmp_path):
    graph = extract(tmp_path, {"nt.py": """
        from collections import namedtuple

        Point = namedtuple("Point", "x y")

        class Vec(Point):
            def norm(self):
                return self.x
    """})
    assert graph.entities["nt.Point"] == "class"
    assert triples(graph, "inherits_from") == {("nt.Vec", "nt.Point")}
    assert graph.ontology.pass_rate == 1.0


def test_generic_bases_nonlocal_and_global_writes_and_match_captures(tmp_path):
    graph = extract(tmp_path, {"z.py": """
        from typing import Generic, TypeVar

        T = TypeVar("T")

        class Box(Generic[T]):
            def get(self, item):
                match item:
                    case {"key": value}:
                        return value

        def outer():
            count = 0
            def bump():
                nonlocal count
                count += 1
            global LAST
            LAST = bump
    """})
    assert triples(graph, "inherits_from") == {("z.Box", "typing.Generic")}
    assert triples(graph, "writes_to") == {("z.outer.bump", "z.outer.count"), ("z.outer", "z.LAST")}
    assert graph.entities["z.LAST"] == "variable"
    assert graph.entities["z.Box.get.value"] == "variable"  # a match capture is a local


def test_real_stdlib_package_json(tmp_path):
    """The stdlib's json package (through a folder symlink, so modules are named json.*)."""
    import sysconfig
    (tmp_path / "json").symlink_to(Path(sysconfig.get_paths()["stdlib"]) / "json")
    graph = extract_corpus([str(tmp_path)], DataConfig(workers=1))
    assert {f.source.module for f in graph.files} >= {"json", "json.decoder", "json.encoder", "json.scanner"}
    assert graph.entities["json.decoder.JSONDecodeError"] == "exception"
    assert graph.entities["json.decoder.JSONDecoder.decode"] == "method"
    found = {(t.head, t.relation, t.tail) for t in graph.triples}
    assert ("json", "instantiates", "json.decoder.JSONDecoder") in found  # _default_decoder = JSONDecoder(...)
    assert ("json.decoder.JSONDecodeError", "inherits_from", "builtins.ValueError") in found
    assert ("json.decoder.JSONDecoder.decode", "invokes", "json.decoder.JSONDecoder.raw_decode") in found
    assert ("json.decoder.JSONDecoder.raw_decode", "raises", "json.decoder.JSONDecodeError") in found
    assert graph.ontology.pass_rate == 1.0


def test_attributes_resolve_through_the_class_bound_to_a_variable(tmp_path):
    graph = extract(tmp_path, {"v.py": """
        from typing import Optional

        class Engine:
            def start(self):
                pass

        class Other:
            def start(self):
                pass

        DEFAULT = Engine()

        class Car:
            def __init__(self, spare: Optional[Engine] = None):
                self.engine = None
                self.engine = Engine()
                self.spare = spare

            def drive(self):
                self.engine.start()
                self.spare.start()

        def main(flag):
            car = Car()
            car.drive()
            DEFAULT.start()
            either = Engine()
            if flag:
                either = Other()
            either.start()  # either class may be bound: both methods may run
    """})
    assert triples(graph, "invokes") == {("v.Car.drive", "v.Engine.start"), ("v.main", "v.Car.drive"),
                                         ("v.main", "v.Engine.start"), ("v.main", "v.Other.start"),
                                         ("v.main", "v.Car.__init__")}
    assert ("v.Car.drive", "v.Car.engine") in triples(graph, "reads_from")


def test_own_variables_say_nothing_but_calls_to_own_definitions_do(tmp_path):
    """What the old parent filter was for: a function's own parameters and locals, a class body's and a
    module's own variables give no reads_from/writes_to. What it wrongly dropped: module-level calls of
    the module's own functions and classes, and a function's calls to its own nested defs."""
    graph = extract(tmp_path, {"own.py": """
        LIMIT = 3

        def helper(x):
            total = x + LIMIT
            return total

        class Box:
            SIZE = 2
            DOUBLE = SIZE * 2

        def outer(n):
            def inner():
                return n
            return inner()

        helper(LIMIT)
        Box()
    """})
    assert triples(graph, "reads_from") == {("own.helper", "own.LIMIT"), ("own.outer.inner", "own.outer.n")}
    assert triples(graph, "writes_to") == set()
    assert triples(graph, "calls") == {("own", "own.helper"), ("own.outer", "own.outer.inner")}
    assert triples(graph, "instantiates") == {("own", "own.Box")}


def test_tests_never_points_at_the_test_framework_a_test_is_written_with(tmp_path):
    """With unittest in the corpus (as in the stdlib), `self.assertEqual(...)` in a test of `shlex` is
    not a test of unittest; the framework's own tests still test it (kg/link.py, TEST_FRAMEWORKS)."""
    graph = extract(tmp_path, {
        "unittest/__init__.py": "from unittest.case import TestCase\n",
        "unittest/case.py": """
            class TestCase:
                def assertEqual(self, a, b):
                    return a == b
        """,
        "unittest/test/__init__.py": "",
        "unittest/test/test_case.py": """
            from unittest.case import TestCase

            class TestAssertions(TestCase):
                def test_equal(self):
                    self.assertEqual(1, 1)
        """,
        "shlex.py": """
            def split(text):
                return text.split()
        """,
        "tests/test_shlex.py": """
            import unittest
            import shlex

            class TestSplit(unittest.TestCase):
                def test_split(self):
                    self.assertEqual(shlex.split('a b'), ['a', 'b'])
        """,
    })
    tests = triples(graph, "tests")
    assert ("tests.test_shlex.TestSplit.test_split", "shlex.split") in tests
    assert ("unittest.test.test_case.TestAssertions.test_equal", "unittest.case.TestCase.assertEqual") in tests
    assert not any(tail.startswith("unittest.") for head, tail in tests if head.startswith("tests."))
    # the call itself is still a fact: only "tests" leaves the framework out
    assert ("tests.test_shlex.TestSplit.test_split", "unittest.case.TestCase.assertEqual") in triples(graph, "invokes")
    assert {(t, h) for h, t in tests} == triples(graph, "tested_by")

"""Each relation extracted from a small hand-written project, compared with the exact expected triples.

The project (tests/data/kg/proj) is a package `shapes` with an abstract base, a subclass, a generator,
an async function, two modules named `utils` in different packages, and a pytest-style test module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graphmer_dist.config import DataConfig
from graphmer_dist.kg import KnowledgeGraph, Triple, check_ontology, extract_corpus
from graphmer_dist.relations import RELATIONS

PROJECT = Path(__file__).parent / "data" / "kg" / "proj"

EXPECTED: dict[str, set[tuple[str, str]]] = {
    "annotated_with": {
        ("shapes.base.Shape.area", "abc.abstractmethod"),
        ("shapes.square.Square.unit", "builtins.staticmethod"),
        ("shapes.square.Square.zero", "builtins.classmethod"),
    },
    "calls": {
        ("shapes.square.Square.diagonal", "math.sqrt"),
        ("shapes.square.rescale", "shapes.utils.helper"),
    },
    "catches": {
        ("shapes.square.safe_area", "shapes.base.ShapeError"),
    },
    "contains": {
        ("shapes", "shapes.base"),
        ("shapes", "shapes.square"),
        ("shapes", "shapes.utils"),
        ("shapes.base.Shape.area", "shapes.base.Shape.area.self"),  # self and cls are parameters too
        ("shapes.base.Shape.describe", "shapes.base.Shape.describe.self"),
        ("shapes.square.Square.__init__", "shapes.square.Square.__init__.self"),
        ("shapes.square.Square.__init__", "shapes.square.Square.__init__.side"),
        ("shapes.square.Square.area", "shapes.square.Square.area.self"),
        ("shapes.square.Square.diagonal", "shapes.square.Square.diagonal.self"),
        ("shapes.square.Square.report", "shapes.square.Square.report.self"),
        ("shapes.square.Square.zero", "shapes.square.Square.zero.cls"),
        ("tests.test_square.TestSquare.test_unit", "tests.test_square.TestSquare.test_unit.self"),
        ("shapes.square.rescale", "shapes.square.rescale.factor"),
        ("shapes.square.safe_area", "shapes.square.safe_area.shape"),
        ("shapes.square.tile", "shapes.square.tile._"),
        ("shapes.square.tile", "shapes.square.tile.count"),
    },
    "declares": {
        ("shapes.base.Shape", "shapes.base.Shape.area"),
        ("shapes.base.Shape", "shapes.base.Shape.describe"),
        ("shapes.square.Square", "shapes.square.Square.__init__"),
        ("shapes.square.Square", "shapes.square.Square.area"),
        ("shapes.square.Square", "shapes.square.Square.diagonal"),
        ("shapes.square.Square", "shapes.square.Square.report"),
        ("shapes.square.Square", "shapes.square.Square.side"),
        ("shapes.square.Square", "shapes.square.Square.unit"),
        ("shapes.square.Square", "shapes.square.Square.zero"),
        ("tests.test_square.TestSquare", "tests.test_square.TestSquare.test_unit"),
    },
    "defines": {
        ("other.utils", "other.utils.helper"),
        ("shapes.base", "shapes.base.Shape"),
        ("shapes.base", "shapes.base.ShapeError"),
        ("shapes.square", "shapes.square.SCALE"),
        ("shapes.square", "shapes.square.Square"),
        ("shapes.square", "shapes.square.rescale"),
        ("shapes.square", "shapes.square.safe_area"),
        ("shapes.square", "shapes.square.tile"),
        ("shapes.utils", "shapes.utils.helper"),
        ("tests.test_square", "tests.test_square.TestSquare"),
        ("tests.test_square", "tests.test_square.test_area"),
    },
    "depends_on": {
        ("shapes.base", "shapes.square"),  # Shape.describe runs Square.area on the Squares it is given
        ("shapes.square", "shapes.base"),
        ("shapes.square", "shapes.utils"),
        ("tests.test_square", "shapes.square"),
    },
    "implements": {
        ("shapes.square.Square", "shapes.base.Shape"),
    },
    "imports": {
        ("shapes", "shapes.base"),
        ("shapes", "shapes.square"),
        ("shapes.base", "abc"),
        ("shapes.square", "math"),
        ("shapes.square", "shapes"),
        ("shapes.square", "shapes.base"),
        ("shapes.square", "shapes.utils"),
        ("shapes.square", "typing"),
        ("tests.test_square", "shapes.square"),
    },
    "inherits_from": {
        ("shapes.base.Shape", "abc.ABC"),
        ("shapes.base.ShapeError", "builtins.ValueError"),
        ("shapes.square.Square", "shapes.base.Shape"),
    },
    "instantiates": {
        ("shapes.base.Shape.describe", "builtins.type"),
        ("shapes.square.Square.area", "shapes.base.ShapeError"),
        ("shapes.square.Square.unit", "shapes.square.Square"),
        ("shapes.square.tile", "builtins.range"),
        ("tests.test_square.test_area", "shapes.square.Square"),
    },
    "invokes": {
        ("shapes.base.Shape.describe", "shapes.square.Square.area"),  # self is a Square (Square.report)
        ("shapes.square.Square.report", "shapes.base.Shape.describe"),
        ("shapes.square.Square.unit", "shapes.square.Square.__init__"),
        ("shapes.square.Square.zero", "shapes.square.Square.unit"),
        ("shapes.square.safe_area", "shapes.base.Shape.area"),  # through the annotation `shape: Shape`
        ("shapes.square.tile", "shapes.square.Square.unit"),
        ("tests.test_square.TestSquare.test_unit", "shapes.square.Square.unit"),
        ("tests.test_square.test_area", "shapes.square.Square.__init__"),
        ("tests.test_square.test_area", "shapes.square.Square.area"),
    },
    "overrides": {
        ("shapes.square.Square.area", "shapes.base.Shape.area"),
    },
    "produces": {
        ("shapes.square.tile", "shapes.square.Square"),
    },
    "raises": {
        ("shapes.square.Square.area", "shapes.base.ShapeError"),
    },
    "reads_from": {
        ("shapes.square.Square.area", "shapes.square.SCALE"),
        ("shapes.square.Square.area", "shapes.square.Square.side"),
        ("shapes.square.Square.diagonal", "shapes.square.Square.side"),
    },
    "returns": {
        ("shapes.base.Shape.area", "builtins.float"),
        ("shapes.base.Shape.describe", "builtins.str"),
        ("shapes.square.Square.area", "builtins.float"),
        ("shapes.square.Square.unit", "shapes.square.Square"),
        ("shapes.square.tile", "shapes.square.Square"),
    },
    "tested_by": {
        ("shapes.square.Square", "tests.test_square.test_area"),
        ("shapes.square.Square.__init__", "tests.test_square.test_area"),
        ("shapes.square.Square.area", "tests.test_square.test_area"),
        ("shapes.square.Square.unit", "tests.test_square.TestSquare.test_unit"),
    },
    "tests": {
        ("tests.test_square.TestSquare.test_unit", "shapes.square.Square.unit"),
        ("tests.test_square.test_area", "shapes.square.Square"),
        ("tests.test_square.test_area", "shapes.square.Square.__init__"),
        ("tests.test_square.test_area", "shapes.square.Square.area"),
    },
    "uses": {
        ("shapes.square.Square.__init__", "builtins.float"),
        ("shapes.square.safe_area", "shapes.base.Shape"),
        ("shapes.square.tile", "builtins.int"),
        ("shapes.square.tile", "shapes.square.Square"),
        ("tests.test_square.TestSquare.test_unit", "shapes.square.Square"),
    },
    "writes_to": {
        ("shapes.square.Square.__init__", "shapes.square.Square.side"),
        ("shapes.square.rescale", "shapes.square.SCALE"),
    },
}


@pytest.fixture(scope="module")
def graph() -> KnowledgeGraph:
    return extract_corpus([str(PROJECT)], DataConfig(workers=1))


def pairs(graph: KnowledgeGraph, relation: str) -> set[tuple[str, str]]:
    return {(t.head, t.tail) for t in graph.triples if t.relation == relation}


@pytest.mark.parametrize("relation", sorted(EXPECTED))
def test_relation_gives_exactly_the_expected_triples(graph, relation):
    assert pairs(graph, relation) == EXPECTED[relation]


def test_defined_in_is_the_inverse_of_defines_declares_and_nested_contains(graph):
    owned = pairs(graph, "defines") | pairs(graph, "declares") | {
        (h, t) for h, t in pairs(graph, "contains") if graph.entities[h] != "module"}
    assert pairs(graph, "defined_in") == {(child, parent) for parent, child in owned}


def test_every_relation_of_the_vocabulary_is_extracted(graph):
    assert {t.relation for t in graph.triples} == set(RELATIONS)


def test_triples_are_sorted_and_unique(graph):
    assert graph.triples == sorted(set(graph.triples))


def test_entity_kinds(graph):
    kinds = graph.entities
    assert kinds["shapes.base.ShapeError"] == "exception"  # derives from a builtin exception
    assert kinds["builtins.ValueError"] == "exception"
    assert kinds["shapes.square.safe_area"] == "function"  # async def counts
    assert kinds["shapes.square.Square.side"] == "attribute"  # from self.side = ...
    assert kinds["shapes.square.SCALE"] == "variable"
    assert kinds["math.sqrt"] == "external"
    assert kinds["shapes"] == "module" and kinds["shapes.square"] == "module"
    assert kinds["builtins.range"] == "external"


def test_same_stem_modules_are_qualified_by_package_path(graph):
    assert graph.entities["shapes.utils.helper"] == "function"
    assert graph.entities["other.utils.helper"] == "function"
    assert "utils.helper" not in graph.entities


def test_self_and_cls_calls_resolve_through_the_class_and_its_bases(graph):
    invokes = pairs(graph, "invokes")
    assert ("shapes.square.Square.report", "shapes.base.Shape.describe") in invokes  # inherited
    assert ("shapes.square.Square.zero", "shapes.square.Square.unit") in invokes  # cls.unit()


def test_ontology_of_the_project_passes_fully(graph):
    assert graph.ontology.checked == len(graph.triples)
    assert graph.ontology.pass_rate == 1.0 and graph.ontology.violations == []


def test_ontology_check_reports_domain_violations_and_inheritance_cycles():
    entities = {"m": "module", "m.A": "class", "m.B": "class", "m.f": "function"}
    triples = [Triple("m.f", "inherits_from", "m.A"),  # a function cannot inherit
               Triple("m.A", "inherits_from", "m.B"), Triple("m.B", "inherits_from", "m.A"),
               Triple("m", "defines", "m.f")]
    report = check_ontology(triples, entities)
    assert (report.checked, report.passed) == (4, 1)
    assert report.pass_rate == 0.25
    assert any("head kind function" in v for v in report.violations)
    assert sum("inheritance cycle" in v for v in report.violations) == 2


"""Java and JavaScript extraction through tree-sitter (the optional extra), on small hand-written projects."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphmer_dist.config import DataConfig
from graphmer_dist.errors import DataError
from graphmer_dist.kg import KnowledgeGraph, extract_corpus

pytest.importorskip("tree_sitter_java")
pytest.importorskip("tree_sitter_javascript")

DATA = Path(__file__).parent / "data" / "kg"

JAVA: dict[str, set[tuple[str, str]]] = {
    "calls": {
        ("com.acme.app.Square.Square.area", "java.util.List.of"),
    },
    "declares": {
        ("com.acme.app.Base.Base", "com.acme.app.Base.Base.size"),
        ("com.acme.app.Square.Square", "com.acme.app.Square.Square.area"),
        ("com.acme.app.Square.Square", "com.acme.app.Square.Square.grow"),
        ("com.acme.app.Square.Square", "com.acme.app.Square.Square.helper"),
        ("com.acme.util.Helper.Helper", "com.acme.util.Helper.Helper.half"),
        ("com.acme.util.Helper.Helper", "com.acme.util.Helper.Helper.twice"),
        ("com.acme.util.Shape.Shape", "com.acme.util.Shape.Shape.area"),
    },
    "defines": {
        ("com.acme.app.Base", "com.acme.app.Base.Base"),
        ("com.acme.app.Square", "com.acme.app.Square.Square"),
        ("com.acme.util.Helper", "com.acme.util.Helper.Helper"),
        ("com.acme.util.Shape", "com.acme.util.Shape.Shape"),
    },
    "depends_on": {
        ("com.acme.app.Square", "com.acme.app.Base"),
        ("com.acme.app.Square", "com.acme.util.Helper"),
        ("com.acme.app.Square", "com.acme.util.Shape"),
    },
    "implements": {
        ("com.acme.app.Square.Square", "com.acme.app.Base.Base"),
        ("com.acme.app.Square.Square", "com.acme.util.Shape.Shape"),
    },
    "imports": {
        ("com.acme.app.Square", "com.acme.util.Helper"),
        ("com.acme.app.Square", "com.acme.util.Shape"),
        ("com.acme.app.Square", "java.util.List"),
    },
    "inherits_from": {
        ("com.acme.app.Square.Square", "com.acme.app.Base.Base"),
        ("com.acme.app.Square.Square", "com.acme.util.Shape.Shape"),
    },
    "instantiates": {
        ("com.acme.app.Square.Square", "com.acme.util.Helper.Helper"),
        ("com.acme.app.Square.Square.grow", "com.acme.app.Square.Square"),
    },
    "invokes": {
        ("com.acme.app.Square.Square.area", "com.acme.app.Base.Base.size"),
        ("com.acme.app.Square.Square.area", "com.acme.util.Helper.Helper.half"),
        ("com.acme.app.Square.Square.area", "com.acme.util.Helper.Helper.twice"),
    },
    "overrides": {
        ("com.acme.app.Square.Square.area", "com.acme.util.Shape.Shape.area"),
    },
}

JAVASCRIPT: dict[str, set[tuple[str, str]]] = {
    "calls": {
        ("src.app.Square.constructor", "src.lib.shapes.unit"),
        ("src.app.Square.render", "react.createElement"),
        ("src.app.Square.render", "src.lib.util.join"),
        ("src.app.main", "src.app.make"),
        ("src.lib.util.join", "path.join"),
    },
    "declares": {
        ("src.app.Square", "src.app.Square.area"),
        ("src.app.Square", "src.app.Square.constructor"),
        ("src.app.Square", "src.app.Square.render"),
        ("src.lib.shapes.Shape", "src.lib.shapes.Shape.area"),
    },
    "defines": {
        ("src.app", "src.app.Square"),
        ("src.app", "src.app.main"),
        ("src.app", "src.app.make"),
        ("src.lib.shapes", "src.lib.shapes.Shape"),
        ("src.lib.shapes", "src.lib.shapes.unit"),
        ("src.lib.util", "src.lib.util.join"),
    },
    "depends_on": {
        ("src.app", "src.lib.shapes"),
        ("src.app", "src.lib.util"),
    },
    "imports": {
        ("src.app", "react"),
        ("src.app", "src.lib.shapes"),
        ("src.app", "src.lib.util"),
        ("src.lib.util", "path"),
    },
    "inherits_from": {
        ("src.app.Square", "src.lib.shapes.Shape"),
    },
    "instantiates": {
        ("src.app.main", "src.lib.shapes.Shape"),
        ("src.app.make", "src.app.Square"),
    },
    "invokes": {
        ("src.app.Square.area", "src.lib.shapes.Shape.area"),
        ("src.app.Square.render", "src.app.Square.area"),
    },
    "overrides": {
        ("src.app.Square.area", "src.lib.shapes.Shape.area"),
    },
}


def extract(folder: str, language: str) -> KnowledgeGraph:
    return extract_corpus([str(DATA / folder)], DataConfig(workers=1, languages=[language]))


def by_relation(graph: KnowledgeGraph) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for t in graph.triples:
        if t.relation != "defined_in":
            found.setdefault(t.relation, set()).add((t.head, t.tail))
    return found


@pytest.mark.parametrize(("folder", "language", "expected"),
                         [("java", "java", JAVA), ("js", "javascript", JAVASCRIPT)])
def test_exact_triples(folder, language, expected):
    graph = extract(folder, language)
    assert by_relation(graph) == expected
    assert graph.ontology.pass_rate == 1.0
    assert {(c, p) for p, c in expected["defines"] | expected["declares"]} == {
        (t.head, t.tail) for t in graph.triples if t.relation == "defined_in"}


@pytest.mark.parametrize(("folder", "language"), [("java", "java"), ("js", "javascript")])
def test_mentions_spell_their_entities(folder, language):
    graph = extract(folder, language)
    for extraction in graph.files:
        assert extraction.mentions
        for m in extraction.mentions:
            text = extraction.text[m.start:m.end]
            kind = graph.entities[m.entity]
            # a JS import names its module by path ("./lib/shapes"); aliases (`unit as one`) by the alias
            assert text == m.entity.rsplit(".", 1)[-1] or kind == "module" or (text, m.entity) == (
                "one", "src.lib.shapes.unit"), m


def test_a_broken_java_file_is_skipped_as_a_syntax_error(tmp_path):
    (tmp_path / "Ok.java").write_text("class Ok { void run() { } }\n")
    (tmp_path / "Broken.java").write_text("class Broken { void run( { }\n")
    graph = extract_corpus([str(tmp_path)], DataConfig(workers=1, languages=["java"]))
    assert [f.source.module for f in graph.files] == ["Ok"]
    assert [(Path(s.path).name, s.reason) for s in graph.skipped] == [("Broken.java", "syntax_error")]


def test_a_missing_grammar_is_a_data_error_naming_the_extra(tmp_path, monkeypatch):
    from graphmer_dist.kg import treesitter
    # a machine without the grammar cannot exist here, so point the registry at a module that does not
    monkeypatch.setitem(treesitter.GRAMMARS, "java", "tree_sitter_java_not_installed")
    monkeypatch.setattr(treesitter, "_PARSERS", {})
    (tmp_path / "A.java").write_text("class A {}\n")
    with pytest.raises(DataError, match=r"data\.languages includes 'java'.*pip install 'graphmer-dist\[treesitter\]'"):
        extract_corpus([str(tmp_path)], DataConfig(workers=1, languages=["java"]))

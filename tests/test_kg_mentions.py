"""Mentions are str spans of the decoded text that name their entity; output is deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphmer_dist.config import DataConfig
from graphmer_dist.kg import extract_corpus, surface

PROJECT = Path(__file__).parent / "data" / "kg" / "proj"
ALIASES = {("m", "math")}
"""(text, entity) pairs where the source spells an entity through an import alias (`import math as m`)."""


@pytest.fixture(scope="module")
def graph():
    return extract_corpus([str(PROJECT)], DataConfig(workers=1))


def spans(graph, module: str) -> list[tuple[str, str]]:
    extraction = next(f for f in graph.files if f.source.module == module)
    return [(extraction.text[m.start:m.end], m.entity) for m in extraction.mentions]


def test_every_mention_spells_its_entity(graph):
    checked = 0
    for extraction in graph.files:
        for mention in extraction.mentions:
            text = extraction.text[mention.start:mention.end]
            kind = graph.entities[mention.entity]
            # a module may be spelled by its tail (`from . import utils`), anything else by its last part
            spelled = (f".{mention.entity}".endswith(f".{text}") if kind == "module"
                       else text == mention.entity.rsplit(".", 1)[-1])
            assert spelled or (text, mention.entity) in ALIASES, (extraction.source.module, mention)
            checked += 1
    assert checked > 60


def test_mentions_are_sorted_and_point_into_the_text(graph):
    for extraction in graph.files:
        keys = [(m.start, m.end) for m in extraction.mentions]
        assert keys == sorted(keys)
        assert all(0 <= m.start < m.end <= len(extraction.text) for m in extraction.mentions)


def test_definitions_references_and_self_attributes_are_mentioned(graph):
    square = spans(graph, "shapes.square")
    for expected in [("Square", "shapes.square.Square"),  # class name and call sites
                     ("area", "shapes.square.Square.area"),  # def name
                     ("side", "shapes.square.Square.side"),  # self.side
                     ("side", "shapes.square.Square.__init__.side"),  # parameter
                     ("describe", "shapes.base.Shape.describe"),  # self.describe() through the base
                     ("ShapeError", "shapes.base.ShapeError"),  # import, raise and except
                     ("utils", "shapes.utils"), ("helper", "shapes.utils.helper"),
                     ("sqrt", "math.sqrt"), ("SCALE", "shapes.square.SCALE")]:
        assert expected in square
    assert square.count(("ShapeError", "shapes.base.ShapeError")) == 3


def test_spans_are_string_indices_after_non_ascii_text(tmp_path):
    source = 'def helper():\n    return 1\n\n\ndef run():\n    label = "héllo → wörld"; helper()  # ünïcode\n'
    (tmp_path / "m.py").write_text(source, encoding="utf-8")
    graph = extract_corpus([str(tmp_path)], DataConfig(workers=1))
    (extraction,) = graph.files
    call = [m for m in extraction.mentions if m.entity == "m.helper"][-1]
    assert call.start == source.rindex("helper()")
    assert extraction.text[call.start:call.end] == "helper"
    label = [m for m in extraction.mentions if m.entity == "m.run.label"]
    assert [extraction.text[m.start:m.end] for m in label] == ["label"]


def test_text_is_the_file_decoded_without_newline_translation(tmp_path):
    (tmp_path / "crlf.py").write_bytes(b"X = 1\r\n\r\ndef f():\r\n    return X\r\n")
    graph = extract_corpus([str(tmp_path)], DataConfig(workers=1))
    (extraction,) = graph.files
    assert extraction.text == "X = 1\r\n\r\ndef f():\r\n    return X\r\n"
    found = {(extraction.text[m.start:m.end], m.entity) for m in extraction.mentions}
    assert found == {("X", "crlf.X"), ("f", "crlf.f")}


def test_surface_is_the_last_part_or_the_whole_module_name():
    assert surface("json.decoder.JSONDecoder.decode", "method") == "decode"
    assert surface("json.decoder", "module") == "json.decoder"


@pytest.mark.slow
def test_output_is_identical_with_one_or_two_worker_processes(tmp_path):
    for i in range(12):  # enough files for several chunks
        (tmp_path / f"mod{i:02d}.py").write_text(f"from mod{(i + 1) % 12:02d} import f{(i + 1) % 12}\n\n"
                                                 f"def f{i}():\n    return f{(i + 1) % 12}()\n")
    corpus = [str(PROJECT), str(tmp_path)]
    one = extract_corpus(corpus, DataConfig(workers=1))
    two = extract_corpus(corpus, DataConfig(workers=2))
    assert one == two
    assert len(one.files) == 18 and ("mod03.f3", "calls", "mod04.f4") in {
        (t.head, t.relation, t.tail) for t in one.triples}

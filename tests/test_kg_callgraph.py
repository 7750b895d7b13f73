"""The call graph a Python programmer sees, on small programs with hand-written expected edges.

Each folder of tests/data/kg/calls is one program (`main.py`, sometimes a package beside it) and its
`expected.json`: `edges` maps each calling entity to every function, method or class it calls
(instantiating a class also runs its `__init__`), and `absent` lists pairs that must not be edges (the
tempting wrong answers). The comparison is exact: a head missing from `edges` must call nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphmer_dist.config import DataConfig
from graphmer_dist.kg import extract_corpus

CASES = Path(__file__).parent / "data" / "kg" / "calls"
CALL_RELATIONS = ("calls", "invokes", "instantiates")


def call_graph(folder: Path) -> dict[str, set[str]]:
    graph = extract_corpus([str(folder)], DataConfig(workers=1))
    assert graph.ontology.pass_rate == 1.0, graph.ontology.violations
    edges: dict[str, set[str]] = {}
    for triple in graph.triples:
        if triple.relation in CALL_RELATIONS:
            edges.setdefault(triple.head, set()).add(triple.tail)
    return edges


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_call_graph_matches_the_hand_written_one(case):
    expected = json.loads((CASES / case / "expected.json").read_text())
    found = call_graph(CASES / case)
    for head, tail in expected["absent"]:
        assert tail not in found.get(head, set()), f"{head} -> {tail} must not be an edge"
    wanted = {head: set(tails) for head, tails in expected["edges"].items()}
    missing = {h: sorted(t - found.get(h, set())) for h, t in wanted.items() if t - found.get(h, set())}
    extra = {h: sorted(t - wanted.get(h, set())) for h, t in found.items() if t - wanted.get(h, set())}
    assert (missing, extra) == ({}, {})

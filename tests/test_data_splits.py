"""Facts held out by unordered entity pair: no held-out fact has its reverse (or any fact about the
same two entities) in train; the older (head, relation) split stays reachable and shows the leak."""

from collections import namedtuple

from graphmer_dist.data.splits import pair_shortcuts, triple_split

Triple = namedtuple("Triple", "head relation tail")


def inverse_pairs(count: int) -> list[Triple]:
    """What the code KG holds for every method and test: each fact beside its reverse."""
    triples = []
    for i in range(count):
        triples += [Triple("pkg.C", "contains", f"pkg.C.m{i}"), Triple(f"pkg.C.m{i}", "defined_in", "pkg.C"),
                    Triple(f"pkg.f{i}", "tested_by", f"tests.test_f{i}"), Triple(f"tests.test_f{i}", "tests", f"pkg.f{i}")]
    return triples


def test_every_fact_about_two_entities_lands_in_one_split():
    triples = inverse_pairs(300)
    splits = [triple_split(t.head, t.relation, t.tail, 0.1, 0.1) for t in triples]
    by_pair = {}
    for t, split in zip(triples, splits):
        by_pair.setdefault(frozenset((t.head, t.tail)), set()).add(split)
    assert all(len(s) == 1 for s in by_pair.values())
    assert {"train", "val", "test"} == set(splits)
    assert pair_shortcuts(triples, splits) == {"val": 0, "test": 0}


def test_the_head_relation_split_is_still_reachable_and_leaks_reverse_facts():
    triples = inverse_pairs(300)
    splits = [triple_split(t.head, t.relation, t.tail, 0.1, 0.1, by="head_relation") for t in triples]
    # Every contains fact shares C's single (head, relation) hash: all in one split.
    assert len({s for t, s in zip(triples, splits) if t.relation == "contains"}) == 1
    leaks = pair_shortcuts(triples, splits)
    held_out = {split: splits.count(split) for split in ("val", "test")}
    # With 80% of facts in train, most held-out facts have their reverse there.
    assert 0.5 * held_out["test"] < leaks["test"] <= held_out["test"]
    assert 0.5 * held_out["val"] < leaks["val"] <= held_out["val"]

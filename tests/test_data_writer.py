"""Dataset writing on a hand-made KG: the split hold-out property, shards, manifest, and the reader."""

import json
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from graphmer_dist.config_loader import load_config
from graphmer_dist.data import open_dataset
from graphmer_dist.data.splits import LP_SPLITS
from graphmer_dist.data.writer import write_dataset
from graphmer_dist.errors import DataError
from graphmer_dist.relations import RELATIONS
from graphmer_dist.tokens import PAD_ID

MANIFEST_KEYS = {  # docs/interfaces.md, "Dataset on disk"
    "format_version", "content_hash", "num_files", "num_files_skipped", "skipped_by_reason", "skipped_files",
    "num_triples", "relations", "ontology_pass_rate", "num_sequences", "num_shards", "shards",
    "triples_per_sequence", "vocab_size", "num_roots", "leaves_per_root", "seq_len", "build_seconds", "corpus",
    "triple_split_by", "num_pair_shortcuts", "nodes_per_sequence", "train_sequences", "num_train_sequences_left_out",
}
FACTS = {"returns": "a", "calls": "b", "raises": "c", "uses": "d"}  # relation → tail suffix


@dataclass(frozen=True)
class Src:
    path: str
    root: str
    module: str = "m"
    language: str = "python"


@dataclass(frozen=True)
class Mention:
    entity: str
    start: int
    end: int


@dataclass
class FakeKG:
    files: list
    skipped: list
    triples: list
    entities: dict = field(default_factory=dict)
    ontology: object = None


@dataclass(frozen=True, order=True)
class Triple:
    head: str
    relation: str
    tail: str


@dataclass(frozen=True)
class Onto:
    pass_rate: float = 0.98


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str


def fake_kg(root: str, num_files: int = 40, per_file: int = 6) -> FakeKG:
    """Functions f<n> (unique over the corpus), each defined and called once, with one fact per relation
    whose tail surface (t<n><letter>, ≤ 3 tokens) is unique, so a leaf decodes back to exactly one triple."""
    files, triples = [], []
    for f in range(num_files):
        text, mentions = "", []
        for i in range(per_file):
            n = f * per_file + i
            for template in ("def f{n}(x):\n", "    return f{n}(x) + 1\n\n"):
                line = template.format(n=n)
                start = len(text) + line.index(f"f{n}")
                mentions.append(Mention(f"m.f{n}", start, start + len(f"f{n}")))
                text += line
            text += f"# tails: t{n}a t{n}b t{n}c t{n}d\n\n"  # so the tokenizer learns ' t' as one token
            triples += [Triple(f"m.f{n}", rel, f"m.t{n}{suffix}") for rel, suffix in FACTS.items()]
        files.append(type("FX", (), {"source": Src(f"{root}/pkg{f}/mod.py", root), "text": text,
                                     "mentions": mentions})())
    skipped = [Skip(f"{root}/bad.py", "syntax_error"), Skip(f"{root}/latin1.py", "not_utf8"),
               Skip(f"{root}/old.py", "syntax_error")]
    return FakeKG(files, skipped, sorted(triples), {}, Onto())


def surface(entity: str, kind: str) -> str:
    return entity.rsplit(".", 1)[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds")
    config = load_config("tiny", ["data.file_val_fraction=0.2", "data.file_test_fraction=0.2",
                                  "data.triple_val_fraction=0.2", "data.triple_test_fraction=0.25",
                                  "data.shard_size=16", "data.tokenizer_min_frequency=1"])
    kg = fake_kg("/corpus")
    write_dataset(folder, kg, config, "hash123", ["/corpus"], time.perf_counter(), surface)
    return folder, config, kg


def injected_triples(dataset, split: str, tokenizer) -> list[tuple[str, str, str]]:
    """Decode every injected leaf block back to (head surface, relation, tail surface)."""
    R, K = dataset.manifest["num_roots"], dataset.manifest["leaves_per_root"]
    found = []
    for index in range(len(dataset.shard_sizes(split))):
        arrays = dataset.load_shard(split, index)
        for row, root in zip(*np.nonzero(arrays["leaf_relation"])):
            head_ids = arrays["input_ids"][row, root : root + arrays["head_length"][row, root]]
            leaf = arrays["input_ids"][row, R + K * root : R + K * (root + 1)]
            tail_ids = [int(t) for t in leaf if t != PAD_ID]
            relation = RELATIONS[arrays["leaf_relation"][row, root] - 1]
            found.append((tokenizer.decode(head_ids.tolist()).strip(), relation, tokenizer.decode(tail_ids).strip()))
    return found


def test_each_split_carries_only_its_own_triples(built):
    folder, _, kg = built
    dataset = open_dataset(folder)
    from graphmer_dist.data.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(dataset.tokenizer_path)
    by_tail = {}  # tail surfaces are unique per triple
    for line in (folder / "triples.tsv").read_text().splitlines():
        head, relation, tail, split, _ = line.split("\t")
        by_tail[surface(tail, "")] = (surface(head, ""), relation, split)
    assert len(by_tail) == len(kg.triples) and {v[2] for v in by_tail.values()} == {"train", "val", "test"}
    for split in ("train", "val", "test", *LP_SPLITS):
        injected = injected_triples(dataset, split, tokenizer)
        assert injected, f"no triple injected in split {split}"
        assert len(injected) == dataset.manifest["num_injected"][split]
        for head, relation, tail in injected:
            want_head, want_relation, want_split = by_tail[tail]
            held_out = LP_SPLITS.get(split, split)  # test_lp carries test facts only, val_lp val facts
            assert (relation, want_split) == (want_relation, held_out), f"{split} carries {want_split} fact {tail}"
            # head_length covers the whole mention unless the chunk ends inside it.
            assert want_head.startswith(head) and head


def test_shards_are_fixed_size_int32_and_memory_mapped(built):
    dataset = open_dataset(built[0])
    sizes = dataset.shard_sizes("train")
    assert len(sizes) >= 2 and all(s == 16 for s in sizes[:-1]) and 1 <= sizes[-1] <= 16
    arrays = dataset.load_shard("train", 0)
    assert isinstance(arrays["input_ids"], np.memmap) and arrays["input_ids"].dtype == np.int32
    assert arrays["input_ids"].shape == (16, 64) and arrays["leaf_relation"].shape == (16, 16)
    assert arrays["head_length"].shape == (16, 16)
    assert sum(sizes) == dataset.manifest["num_sequences"]["train"]


def test_manifest_lists_every_documented_key_and_counts_skips(built):
    folder, config, kg = built
    manifest = open_dataset(folder).manifest
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["num_files"] == len(kg.files) and manifest["num_files_skipped"] == 3
    assert manifest["skipped_by_reason"] == {"not_utf8": 1, "syntax_error": 2}
    assert manifest["skipped_files"]["/corpus/latin1.py"] == "not_utf8"
    assert manifest["relations"] == {rel: len(kg.triples) // len(FACTS) for rel in FACTS}
    assert manifest["seq_len"] == config.model.seq_len == 64 and manifest["content_hash"] == "hash123"
    assert manifest["num_shards"] == sum(len(v) for v in manifest["shards"].values())
    assert manifest["triple_split_by"] == "entity_pair" and manifest["num_pair_shortcuts"] == {"val": 0, "test": 0}
    for split, count in manifest["num_sequences"].items():
        assert manifest["triples_per_sequence"][split] == round(manifest["num_injected"][split] / count, 3)
    relations = json.loads((folder / "relations.json").read_text())
    assert relations["relations"] == list(RELATIONS) and relations["ids"]["defines"] == 1


def test_manifest_counts_the_non_empty_nodes_of_every_split_as_the_shards_hold_them(built):
    folder, config, _ = built
    dataset = open_dataset(folder)
    R, K = config.model.num_roots, config.model.leaves_per_root
    for split, counts in dataset.manifest["nodes_per_sequence"].items():
        ids = np.concatenate([dataset.load_shard(split, i)["input_ids"] for i in range(len(dataset.shard_sizes(split)))])
        nodes, leaves = (ids != PAD_ID).sum(axis=1), (ids[:, R:] != PAD_ID).sum(axis=1)
        assert leaves.max() > 0 and nodes.min() < nodes.max()   # a spread to get wrong
        nearest_rank = {q: int(np.percentile(nodes, q, method="inverted_cdf")) for q in (50, 99)}
        assert counts == {"mean": round(float(nodes.mean()), 3), "p50": nearest_rank[50], "p99": nearest_rank[99],
                          "max": int(nodes.max()), "leaf_mean": round(float(leaves.mean()), 3),
                          "leaf_p99": int(np.percentile(leaves, 99, method="inverted_cdf")),
                          "leaf_max": int(leaves.max()), "leaf_fill": round(float(leaves.mean()) / (R * K), 5)}, split


def test_reader_refuses_missing_incomplete_and_other_format_folders(built, tmp_path):
    with pytest.raises(DataError, match=r"does not exist; build it with `graphmer-launch data --out"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "partial" / "shards").mkdir(parents=True)
    with pytest.raises(DataError, match=r"partial is incomplete: it has no readable manifest.json"):
        open_dataset(tmp_path / "partial")
    manifest = json.loads((built[0] / "manifest.json").read_text())
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({**manifest, "format_version": 0}))
    with pytest.raises(DataError, match=r"format version 0 but this graphmer-dist reads versions 1, 2, 3, 4; rebuild"):
        open_dataset(tmp_path / "old")


def all_rows(dataset, split: str) -> dict[str, np.ndarray]:
    shards = [dataset.load_shard(split, i) for i in range(len(dataset.shard_sizes(split)))]
    return {name: np.concatenate([s[name] for s in shards]) for name in ("input_ids", "leaf_relation", "head_length")}


def test_train_keeps_only_chunks_with_a_triple_and_val_test_keep_every_chunk(built, tmp_path):
    """data.train_sequences=with_triples (the default) leaves out exactly the train rows that carry no
    triple: the same build with `all` holds the same rows plus those, in the same order."""
    folder, config, kg = built
    every = load_config("tiny", [*_overrides(config), "data.train_sequences=all"])
    (tmp_path / "all").mkdir()
    write_dataset(tmp_path / "all", kg, every, "hash123", ["/corpus"], time.perf_counter(), surface)
    kept, whole = open_dataset(folder), open_dataset(tmp_path / "all")
    train, train_all = all_rows(kept, "train"), all_rows(whole, "train")
    carries = train_all["leaf_relation"].any(axis=1)
    assert train["leaf_relation"].any(axis=1).all() and not carries.all()  # there were chunks to leave out
    for name, rows in train.items():
        assert (rows == train_all[name][carries]).all(), name
    assert kept.manifest["num_train_sequences_left_out"] == int((~carries).sum()) > 0
    assert whole.manifest["num_train_sequences_left_out"] == 0
    assert kept.manifest["num_injected"]["train"] == whole.manifest["num_injected"]["train"]
    assert kept.manifest["triples_per_sequence"]["train"] > whole.manifest["triples_per_sequence"]["train"]
    for split in ("val", "test"):
        assert not all_rows(kept, split)["leaf_relation"].any(axis=1).all()  # chunks without a triple stay
        assert kept.manifest["num_sequences"][split] == whole.manifest["num_sequences"][split]


def test_a_train_split_with_no_triple_at_all_is_a_data_error(built, tmp_path):
    _, config, kg = built
    bare = FakeKG(kg.files, kg.skipped, [], {}, Onto())
    (tmp_path / "bare").mkdir()
    with pytest.raises(DataError, match=r"carries a triple.*data\.train_sequences=all"):
        write_dataset(tmp_path / "bare", bare, config, "h", ["/corpus"], time.perf_counter(), surface)


def _overrides(config) -> list[str]:
    data = config.data
    return [f"data.{key}={getattr(data, key)}" for key in (
        "file_val_fraction", "file_test_fraction", "triple_val_fraction", "triple_test_fraction", "shard_size",
        "tokenizer_min_frequency")]


def test_check_compatible_refuses_other_shapes(built):
    dataset = open_dataset(built[0])
    dataset.check_compatible(built[1].model)
    other = load_config("tiny", ["model.num_roots=32"]).model
    with pytest.raises(DataError, match=r"built for other model shapes \(num_roots: dataset 16, model 32\)"):
        dataset.check_compatible(other)


def test_vocab_flags_cover_the_model_vocabulary(built):
    flags = open_dataset(built[0]).vocab_flags()
    assert flags.begins_with_space.shape == (512,) and flags.begins_with_space.any()


def test_a_damaged_shard_is_a_data_error_naming_it(built, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built[0], copy)
    (copy / "shards" / "train" / "00001" / "head_length.npy").write_bytes(b"not numpy")
    dataset = open_dataset(copy)
    assert dataset.load_shard("train", 0)["head_length"].shape == (16, 16)
    with pytest.raises(DataError, match=r"shard .*train/00001 of dataset .* cannot be read.*delete the folder"):
        dataset.load_shard("train", 1)
    with pytest.raises(IndexError, match=r"split 'val' of .* has \d+ shard\(s\); no shard 99"):
        dataset.load_shard("val", 99)

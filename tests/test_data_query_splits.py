"""The link-prediction query splits val_lp / test_lp: honest hold-out, a deterministic cap, and far
more queries than the plain test split on the shipped fixture corpus."""

import time

import numpy as np
import pytest

from graphmer_dist.config_loader import load_config
from graphmer_dist.data import open_dataset
from graphmer_dist.data.splits import LP_SPLITS
from graphmer_dist.data.writer import write_dataset
from graphmer_dist.errors import ConfigError
from test_data_writer import fake_kg, surface

SPLIT_KEYS = ["data.file_val_fraction=0.2", "data.file_test_fraction=0.2", "data.triple_val_fraction=0.2",
              "data.triple_test_fraction=0.25", "data.shard_size=16", "data.tokenizer_min_frequency=1"]


def write(folder, *extra: str, reverse_files: bool = False):
    config = load_config("tiny", [*SPLIT_KEYS, *extra])
    kg = fake_kg("/corpus")
    if reverse_files:
        kg.files.reverse()
    folder.mkdir()
    write_dataset(folder, kg, config, "hash", ["/corpus"], time.perf_counter(), surface)
    return open_dataset(folder)


def rows(dataset, split: str, name: str = "input_ids") -> np.ndarray:
    sizes = dataset.shard_sizes(split)
    return np.concatenate([np.asarray(dataset.load_shard(split, i)[name]) for i in range(len(sizes))])


def test_query_splits_take_chunks_of_every_file_and_keep_only_ones_with_facts(tmp_path):
    dataset = write(tmp_path / "ds", "data.train_sequences=all")  # every train chunk, to find the lp ones among
    manifest, R = dataset.manifest, dataset.manifest["num_roots"]
    for lp, plain in LP_SPLITS.items():
        relation = rows(dataset, lp, "leaf_relation")
        assert (relation > 0).any(axis=1).all(), f"{lp} has a sequence without any injected fact"
        assert manifest["num_queries"][lp] == int((relation > 0).sum()) == manifest["num_injected"][lp]
        assert manifest["num_sequences"][lp] == len(relation) == manifest["num_lp_candidates"][lp]
        # Every plain held-out sequence with a fact is also a query sequence (same chunk of a held-out file)...
        plain_roots = rows(dataset, plain)[(rows(dataset, plain, "leaf_relation") > 0).any(axis=1), :R]
        lp_roots = {r.tobytes() for r in rows(dataset, lp)[:, :R]}
        assert {r.tobytes() for r in plain_roots} <= lp_roots
        # ...and the others are chunks of the other files: the code text is not what is held out.
        other_files = [split for split in ("train", "val", "test") if split != plain]
        other_roots = {r.tobytes() for split in other_files for r in rows(dataset, split)[:, :R]}
        assert lp_roots - {r.tobytes() for r in plain_roots} <= other_roots
        assert manifest["num_queries"][lp] > manifest["num_queries"][plain]


def test_the_cap_keeps_a_deterministic_order_independent_sample(tmp_path):
    full = write(tmp_path / "full")
    capped = write(tmp_path / "capped", "data.max_lp_sequences=3")
    shuffled = write(tmp_path / "shuffled", "data.max_lp_sequences=3", reverse_files=True)
    R = full.manifest["num_roots"]
    assert capped.manifest["num_sequences"]["test_lp"] == 3 < capped.manifest["num_lp_candidates"]["test_lp"]
    assert capped.manifest["num_lp_candidates"] == full.manifest["num_lp_candidates"]
    # Sequences are written in hash order, so a cap keeps exactly the first ones of the uncapped split,
    # whatever order the files were read in.
    np.testing.assert_array_equal(rows(capped, "test_lp")[:, :R], rows(full, "test_lp")[:3, :R])
    np.testing.assert_array_equal(rows(shuffled, "test_lp")[:, :R], rows(capped, "test_lp")[:, :R])
    # The plain splits do not depend on the cap.
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(rows(capped, split), rows(full, split))


def test_zero_disables_the_query_splits_and_a_negative_cap_is_refused(tmp_path):
    dataset = write(tmp_path / "ds", "data.max_lp_sequences=0")
    assert not any(dataset.has_split(lp) for lp in LP_SPLITS)
    assert set(dataset.manifest["num_sequences"]) == {"train", "val", "test"}
    with pytest.raises(ConfigError, match=r"data.max_lp_sequences.*must be ≥ 0"):
        load_config("tiny", ["data.max_lp_sequences=-1"])


def test_fixture_corpus_gets_far_more_test_queries_than_its_test_files_give(tiny_dataset):
    dataset = open_dataset(tiny_dataset)
    manifest, R = dataset.manifest, dataset.manifest["num_roots"]
    queries = manifest["num_queries"]
    test_files = manifest["num_files_by_split"]["test"]
    assert manifest["num_lp_candidates"]["test_lp"] == manifest["num_sequences"]["test_lp"]  # under the cap
    # Queries found outside the test files (in train/val chunks that mention a test head) outnumber the
    # test split's own, because those files are the large majority of the corpus.
    relation = rows(dataset, "test_lp", "leaf_relation")
    test_roots = {r.tobytes() for r in rows(dataset, "test")[:, :R]}
    outside = [i for i, r in enumerate(rows(dataset, "test_lp")[:, :R]) if r.tobytes() not in test_roots]
    assert int((relation[outside] > 0).sum()) > queries["test"] > 0
    assert queries["test_lp"] == queries["test"] + int((relation[outside] > 0).sum())
    assert test_files < manifest["num_files"] - test_files

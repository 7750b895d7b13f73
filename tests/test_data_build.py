"""build_dataset end to end on real stdlib code: the cache, bad corpora, and the shipped fixture."""

import os
from pathlib import Path

import pytest

from fixtures.datasets import TINY_CORPUS, TINY_DATASET_OVERRIDES, copy_stdlib_packages
from graphmer_dist.config_loader import load_config
from graphmer_dist.data import build_or_reuse, open_dataset
from graphmer_dist.errors import DataError


def tiny_config(tmp_path: Path, *extra: str):
    return load_config("tiny", [*TINY_DATASET_OVERRIDES, f"data.cache_dir={tmp_path / 'cache'}", *extra])


def quiet(logs: list[str]):
    return logs.append


def test_second_build_reuses_the_cache_and_a_changed_file_rebuilds(tmp_path):
    corpus = copy_stdlib_packages(tmp_path / "corpus", ("json",))
    config, logs = tiny_config(tmp_path), []
    first, reused = build_or_reuse(config, [str(corpus)], log=quiet(logs))
    assert not reused and first.parent == tmp_path / "cache" and (first / "manifest.json").exists()
    again, reused = build_or_reuse(config, [str(corpus)], log=quiet(logs))
    assert reused and again == first and "reusing it" in logs[-1]
    with (corpus / "json" / "tool.py").open("a") as f:
        f.write("\n\ndef added_later():\n    return main()\n")
    changed, reused = build_or_reuse(config, [str(corpus)], log=quiet(logs))
    assert not reused and changed != first
    other_shape, reused = build_or_reuse(tiny_config(tmp_path, "model.num_roots=32"), [str(corpus)], log=quiet(logs))
    assert not reused and other_shape not in (first, changed)
    # Extraction processes do not change the content, so they do not change the key.
    assert build_or_reuse(tiny_config(tmp_path, "data.workers=2"), [str(corpus)], log=quiet(logs)) == (changed, True)


def test_a_folder_without_manifest_is_rebuilt(tmp_path):
    corpus = copy_stdlib_packages(tmp_path / "corpus", ("json",))
    out = tmp_path / "ds"
    build_or_reuse(tiny_config(tmp_path), [str(corpus)], out, log=quiet([]))
    manifest = (out / "manifest.json").read_text()
    (out / "manifest.json").unlink()  # as if the build died before its last write
    folder, reused = build_or_reuse(tiny_config(tmp_path), [str(corpus)], out, log=quiet([]))
    assert folder == out and not reused and (out / "manifest.json").read_text().count("content_hash") == 1
    assert open_dataset(out).manifest["content_hash"] in manifest
    assert not [p for p in tmp_path.iterdir() if ".building-" in p.name or ".old-" in p.name]


def test_refuses_to_build_over_a_folder_that_is_not_a_dataset(tmp_path):
    corpus = copy_stdlib_packages(tmp_path / "corpus", ("json",))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"mine is a non-empty folder that is not a dataset.*pass --out with an empty"):
        build_or_reuse(tiny_config(tmp_path), [str(corpus)], tmp_path / "mine", log=quiet([]))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_bad_files_are_skipped_and_counted_in_the_manifest(tmp_path):
    corpus = copy_stdlib_packages(tmp_path / "corpus", ("json",))
    (corpus / "latin1.py").write_bytes(b"# caf\xe9\nx = 1\n")
    (corpus / "py2.py").write_text("print 'hello'\n")
    (corpus / "empty.py").write_text("")
    folder, _ = build_or_reuse(tiny_config(tmp_path), [str(corpus)], tmp_path / "ds", log=quiet([]))
    manifest = open_dataset(folder).manifest
    reasons = manifest["skipped_by_reason"]
    assert reasons.get("not_utf8") == 1 and reasons.get("syntax_error") == 1 and reasons.get("empty") == 1
    assert manifest["num_files_skipped"] == sum(reasons.values()) >= 3
    assert manifest["skipped_files"][str(corpus / "latin1.py")] == "not_utf8"
    assert manifest["num_files"] == len(list((corpus / "json").glob("*.py")))


def test_an_empty_corpus_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("no code here")
    with pytest.raises(DataError, match=r"empty'\] contains no usable python source file"):
        build_or_reuse(tiny_config(tmp_path), [str(tmp_path / "empty")], tmp_path / "ds", log=quiet([]))


def test_a_missing_corpus_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"corpus path '.*no-such-dir' does not exist"):
        build_or_reuse(tiny_config(tmp_path), [str(tmp_path / "no-such-dir")], tmp_path / "ds", log=quiet([]))


def test_a_corpus_where_every_file_is_skipped_reports_the_counts(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.py").write_bytes(b"\xff\xfe garbage")
    (corpus / "b.py").write_text("def broken(:\n")
    expected = r"none of the 2 source files .* could be parsed \(reasons: .*'not_utf8': 1, 'syntax_error': 1"
    with pytest.raises(DataError, match=expected):
        build_or_reuse(tiny_config(tmp_path), [str(corpus)], tmp_path / "ds", log=quiet([]))
    assert not (tmp_path / "ds").exists()


def test_tiny_dataset_fixture_is_real_dense_and_split(tiny_dataset):
    dataset = open_dataset(tiny_dataset)
    dataset.check_compatible(load_config("tiny").model)
    manifest = dataset.manifest
    assert manifest["num_files"] == len(list(TINY_CORPUS.rglob("*.py"))) and manifest["num_files_skipped"] == 0
    assert manifest["num_triples"] > 300 and len(manifest["relations"]) >= 15
    assert all(manifest["num_injected"][split] > 0 for split in ("train", "val", "test"))
    assert manifest["triples_per_sequence"]["train"] > 0.5  # enough leaves for MNM tests to see labels
    assert os.path.isfile(dataset.tokenizer_path)

"""Every kind of unusable file is skipped with its reason; an unusable corpus is a DataError."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import pytest

from graphmer_dist.config import DataConfig
from graphmer_dist.errors import DataError
from graphmer_dist.kg import default_corpus, discover_sources, extract_corpus

GOOD = "def ok():\n    return 1\n"


def reasons(graph_or_skipped) -> dict[str, str]:
    skipped = getattr(graph_or_skipped, "skipped", graph_or_skipped)
    return {Path(s.path).name: s.reason for s in skipped}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """One good file next to one file of each bad kind."""
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "latin1.py").write_bytes(b"name = '\xe9t\xe9'\n")
    (tmp_path / "py2.py").write_text("print 'hello'\n")
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "nulls.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "blank.py").write_text("\n   \n")
    (tmp_path / "huge.py").write_text("x = 1\n" * 50)
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing-target.py")
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "back").symlink_to(tmp_path)  # a folder loop
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "Main.java").write_text("class Main {}\n")
    (tmp_path / "notes.txt").write_text("not code\n")
    return tmp_path


def test_each_bad_file_is_skipped_with_its_reason(corpus):
    graph = extract_corpus([str(corpus)], DataConfig(workers=1, max_file_bytes=200))
    assert [f.source.module for f in graph.files] == ["good"]
    assert reasons(graph) == {
        "latin1.py": "not_utf8", "py2.py": "syntax_error", "broken.py": "syntax_error",
        "nulls.py": "syntax_error", "empty.py": "empty", "blank.py": "empty", "huge.py": "too_large",
        "dangling.py": "unreadable", "loop.py": "symlink_loop", "back": "symlink_loop",
        "pipe.py": "unreadable", "Main.java": "unsupported_language",
    }  # notes.txt is not source code at all, so it is neither a file nor a skip


def test_skip_details_say_why(corpus):
    _, skipped = discover_sources([str(corpus)], DataConfig(max_file_bytes=200))
    huge = next(s for s in skipped if s.path.endswith("huge.py"))
    assert "300 bytes > data.max_file_bytes=200" in huge.detail


def test_an_explicit_file_of_another_language_is_reported(corpus):
    with pytest.raises(DataError, match=r"contains no usable python source file \(1 skipped"):
        discover_sources([str(corpus / "notes.txt")], DataConfig())


def test_excluded_folders_are_not_walked(tmp_path):
    for folder in ("pkg", "pkg/__pycache__", "node_modules"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "m.py").write_text(GOOD)
    sources, skipped = discover_sources([str(tmp_path)], DataConfig())
    assert [s.module for s in sources] == ["pkg.m"] and skipped == []


def test_module_names_come_from_the_folder_or_the_file_stem(tmp_path):
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "__init__.py").write_text(GOOD)
    (tmp_path / "json" / "decoder.py").write_text(GOOD)
    sources, _ = discover_sources([str(tmp_path), str(tmp_path / "json" / "decoder.py")], DataConfig())
    assert [(Path(s.path).name, s.module) for s in sources] == [("__init__.py", "json"), ("decoder.py", "decoder")]
    assert all(Path(s.path).is_absolute() for s in sources)


def test_missing_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"corpus path '.*nowhere' does not exist\. Check data\.corpus"):
        extract_corpus([str(tmp_path / "nowhere")], DataConfig())


def test_empty_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"contains no usable python source file \(0 skipped"):
        extract_corpus([str(tmp_path)], DataConfig())


def test_corpus_where_nothing_parses_is_a_data_error(tmp_path):
    (tmp_path / "a.py").write_text("print 'py2'\n")
    (tmp_path / "b.py").write_bytes(b"\xff\xfe")
    with pytest.raises(DataError, match=r"none of the 2 source files .* could be parsed "
                                        r"\(reasons: \{'not_utf8': 1, 'syntax_error': 1\}\)"):
        extract_corpus([str(tmp_path)], DataConfig(workers=1))


def test_default_corpus_is_this_interpreters_stdlib_without_site_packages():
    assert default_corpus() == [sysconfig.get_paths()["stdlib"]]
    assert (Path(default_corpus()[0]) / "json" / "decoder.py").is_file()


def test_empty_corpus_list_discovers_the_stdlib_and_skips_site_packages():
    sources, _ = discover_sources([], DataConfig(exclude=[]))
    modules = {s.module for s in sources}
    assert {"json.decoder", "os", "collections"} <= modules
    assert not any("site-packages" in s.path for s in sources)


def test_pathological_code_terminates_and_over_bound_files_are_skipped_as_too_complex(tmp_path, monkeypatch):
    """Alias cycles, self-referential containers and call cycles finish (each node's value set and
    the solver's steps are bounded); a 10,000-deep attribute chain or a file with more value-flow
    records than the bound is skipped with the reason `too_complex`, and the rest is still linked."""
    from graphmer_dist.kg import worker

    (tmp_path / "aliases.py").write_text("".join(f"a{i} = a{i + 1}\n" for i in range(30)) + "a30 = a0\n"
                                         "def f(x):\n    return f(f)\nf(f)()\n")
    (tmp_path / "selfref.py").write_text("def g():\n    pass\nl = [g]\nl.append(l)\nl[0][0][0]()\n"
                                         "d = {}\nd['d'] = d\nd['d']['d']()\n")
    (tmp_path / "chain.py").write_text("import os\nx = os" + ".path" * 10_000 + "\nx()\n")
    (tmp_path / "generated.py").write_text("def h(k):\n    return k\n" + "h(h)\n" * 80)
    monkeypatch.setattr(worker, "MAX_FLOW_RECORDS", 50)
    graph = extract_corpus([str(tmp_path)], DataConfig(workers=1))
    assert reasons(graph) == {"chain.py": "too_complex", "generated.py": "too_complex"}
    calls = {(t.head, t.tail) for t in graph.triples if t.relation == "calls"}
    assert {("aliases", "aliases.f"), ("aliases.f", "aliases.f"), ("selfref", "selfref.g")} <= calls

"""resolve_resume: 'auto' | 'never' | explicit path, extra read-only roots, and the model-hash guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphmer_dist.checkpoint import CheckpointManager, resolve_resume, step_dirname
from graphmer_dist.errors import CheckpointError
from graphmer_dist.storage import open_storage

META = {"config_hash": "cfg0", "model_hash": "mdl0", "world_size": 1, "strategy": "single"}


def make_run(run_dir: Path | str, steps: list[int], endpoint: str | None = None) -> CheckpointManager:
    manager = CheckpointManager(open_storage(str(run_dir), endpoint), keep=5)
    for step in steps:
        manager.save(step, {"model.pt": f"weights@{step}".encode()}, META)
    return manager


def test_never_ignores_existing_checkpoints(tmp_path):
    make_run(tmp_path / "run", [10])
    assert resolve_resume("never", str(tmp_path / "run")) is None


def test_auto_on_a_fresh_run_starts_from_scratch(tmp_path):
    assert resolve_resume("auto", str(tmp_path / "run")) is None


def test_auto_takes_the_newest_valid(tmp_path):
    make_run(tmp_path / "run", [10, 20])
    (tmp_path / "run/checkpoints" / step_dirname(20) / "model.pt").write_bytes(b"torn")
    found = resolve_resume("auto", str(tmp_path / "run"), model_hash="mdl0")
    assert found.step == 10 and (found.path / "model.pt").read_bytes() == b"weights@10"
    assert found.manifest["strategy"] == "single" and found.uri.endswith("step-0000010")


def test_auto_finds_a_previous_session_in_a_read_only_inputs_root(tmp_path):
    """Like Kaggle: the last session's output is mounted under /kaggle/input/<name>/... ."""
    make_run(tmp_path / "run", [10])
    make_run(tmp_path / "inputs/graphmer-previous/output/run", [30])
    found = resolve_resume("auto", str(tmp_path / "run"), [str(tmp_path / "inputs")])
    assert found.step == 30 and "graphmer-previous" in found.uri
    make_run(tmp_path / "run", [40])
    assert resolve_resume("auto", str(tmp_path / "run"), [str(tmp_path / "inputs")]).step == 40


def test_explicit_checkpoint_folder_and_run_folder(tmp_path):
    make_run(tmp_path / "run", [10, 20])
    older = resolve_resume(str(tmp_path / "run/checkpoints" / step_dirname(10)), str(tmp_path / "other"))
    assert older.step == 10 and (older.path / "model.pt").read_bytes() == b"weights@10"
    assert resolve_resume(str(tmp_path / "run"), str(tmp_path / "other")).step == 20


def test_explicit_path_without_a_checkpoint_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match=r"nowhere: there is no checkpoint there.*'auto' or 'never'"):
        resolve_resume(str(tmp_path / "nowhere"), str(tmp_path / "run"))


def test_explicit_damaged_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    make_run(tmp_path / "run", [10])
    folder = tmp_path / "run/checkpoints" / step_dirname(10)
    (folder / "model.pt").write_bytes(b"weights@1X")  # same size, wrong bytes
    with pytest.raises(CheckpointError, match=r"step-0000010 cannot be loaded: file model.pt fails its sha256"):
        resolve_resume(str(folder), str(tmp_path / "run"))
    with pytest.raises(CheckpointError, match=r"none of the checkpoints in .*run/checkpoints is complete"):
        resolve_resume(str(tmp_path / "run"), str(tmp_path / "other"))


def test_changed_architecture_is_refused(tmp_path):
    make_run(tmp_path / "run", [10])
    with pytest.raises(CheckpointError, match=r"different model architecture \(model_hash mdl0, this run has mdl1\)"):
        resolve_resume("auto", str(tmp_path / "run"), model_hash="mdl1")


def test_auto_and_explicit_on_s3(s3, tmp_path):
    make_run(s3.uri("run"), [10, 20], endpoint=s3.endpoint)
    found = resolve_resume("auto", s3.uri("run"), endpoint=s3.endpoint, cache_dir=tmp_path / "cache")
    assert found.step == 20 and (found.path / "model.pt").read_bytes() == b"weights@20"
    assert found.path.is_relative_to(tmp_path / "cache")  # downloaded, verified copy
    explicit = resolve_resume(s3.uri(f"run/checkpoints/{step_dirname(10)}"), str(tmp_path / "run"),
                              endpoint=s3.endpoint, cache_dir=tmp_path / "cache")
    assert explicit.step == 10 and (explicit.path / "model.pt").read_bytes() == b"weights@10"

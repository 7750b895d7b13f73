"""Checkpoint files load without running code: RNG states as tensors, a real malicious pickle refused by
the resume path and by eval (with the file named), and nothing in it executed."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
import torch

from graphmer_dist.checkpoint.layout import save_tensors
from graphmer_dist.checkpoint.manifest import MANIFEST, sha256_file
from graphmer_dist.checkpoint.rng import capture_rng_state, restore_rng_state
from graphmer_dist.checkpoint.safe_load import load_tensors
from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import CheckpointError

BASE = ["model.attention=eager", "train.precision=fp32", "train.num_threads=1", "train.eval_every=1000",
        "checkpoint.every_steps=2", "train.steps=2"]


@pytest.fixture(autouse=True)
def _inductor_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # torch sets it on first use


class CreatesAFile:
    """Unpickling this calls open(path, 'w'): a file appears if the payload runs."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def draw() -> tuple:
    return (random.random(), np.random.rand(3).tolist(), np.random.normal(), torch.rand(3).tolist())


def test_rng_states_round_trip_as_tensors(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.normal()  # leaves a cached gaussian in numpy's legacy state: it must be captured too
    save_tensors(capture_rng_state(), tmp_path / "rng.pt")
    expected = draw()
    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    assert draw() != expected
    restore_rng_state(load_tensors(tmp_path / "rng.pt"))
    assert draw() == expected


def test_load_tensors_refuses_a_pickled_payload_and_names_the_file(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"state": CreatesAFile(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"evil\.pt was refused: .*Nothing in it was run"):
        load_tensors(tmp_path / "evil.pt")
    assert not marker.exists()
    torch.load(tmp_path / "evil.pt", weights_only=False)  # the payload is real: the unsafe load runs it
    assert marker.exists()


def _plant(checkpoint, name: str, payload) -> None:
    """Replace one file and re-sign the manifest, as an attacker who publishes a whole folder would."""
    torch.save(payload, checkpoint / name)
    manifest = json.loads((checkpoint / MANIFEST).read_text())
    manifest["files"][name] = {"sha256": sha256_file(checkpoint / name), "size": (checkpoint / name).stat().st_size}
    (checkpoint / MANIFEST).write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def trained_run(tiny_dataset, tmp_path_factory):
    """A real 2-step run folder, made once; tests copy it."""
    from graphmer_dist.train.loop import train_loop_per_worker
    run_dir = tmp_path_factory.mktemp("safe_load") / "run"
    job = {"config": load_config("tiny", BASE).to_dict(), "dataset_dir": str(tiny_dataset), "run_dir": str(run_dir),
           "resume": "auto"}
    assert train_loop_per_worker(job) == 0
    return job


@pytest.mark.parametrize("name", ["optimizer.pt", "rng.rank000.pt", "model.pt"])
def test_resume_and_eval_refuse_a_malicious_checkpoint_file(trained_run, tmp_path, name):
    from graphmer_dist.eval.checkpoint import load_checkpoint
    from graphmer_dist.train.loop import train_loop_per_worker

    shutil.copytree(trained_run["run_dir"], tmp_path / "run")
    job = {**trained_run, "run_dir": str(tmp_path / "run")}
    checkpoint = tmp_path / "run" / "checkpoints" / "step-0000002"
    marker = tmp_path / "pwned"
    _plant(checkpoint, name, {"state": CreatesAFile(str(marker))})
    with pytest.raises(CheckpointError, match=rf"{name} was refused"):
        train_loop_per_worker({**job, "config": load_config("tiny", [*BASE[:-1], "train.steps=3"]).to_dict()})
    if name == "model.pt":
        with pytest.raises(CheckpointError, match=r"model\.pt was refused"):
            load_checkpoint(str(tmp_path / "run"))
    assert not marker.exists()

"""Metrics sinks (issue 15): `train.report_to: [tensorboard, mlflow]`, read back with TensorBoard's
EventAccumulator and MLflow's client from the real stores a run writes into its run folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from launch import cli

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")


def train(tiny_dataset: Path, run_dir: Path, steps: int, *extra: str) -> int:
    return cli.main(["--platform", "local", "--config", "tiny", "--strategy", "single", "--dataset", str(tiny_dataset),
                     "--run-dir", str(run_dir), "--steps", str(steps), "--set", "train.report_to=[tensorboard,mlflow]",
                     "--set", "train.log_every=2", "--set", "train.eval_every=4", "--set", "model.attention=eager",
                     "--set", "checkpoint.every_steps=4", *extra])


def rows(run_dir: Path) -> tuple[list[dict], list[dict]]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in lines if not r.get("eval")], [r for r in lines if r.get("eval")]


def test_tensorboard_and_mlflow_get_every_row_and_a_resumed_run_continues_its_mlflow_run(
        tiny_dataset, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # no test may reach the network
    run_dir = tmp_path / "run"
    assert train(tiny_dataset, run_dir, 4) == 0
    run_id = json.loads((run_dir / "mlflow.json").read_text())["run_id"]
    assert train(tiny_dataset, run_dir, 8) == 0  # resumes from step 4 in the same run folder
    assert json.loads((run_dir / "mlflow.json").read_text())["run_id"] == run_id
    train_rows, eval_rows = rows(run_dir)
    assert [r["step"] for r in train_rows] == [2, 4, 6, 8] and [r["step"] for r in eval_rows] == [4, 8]

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    loss = events.Scalars("train/loss")
    assert [e.step for e in loss] == [2, 4, 6, 8]
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in train_rows], rel=1e-6)
    assert [e.step for e in events.Scalars("eval/val_loss")] == [4, 8]

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading the run folder's file store
    client = MlflowClient("file://" + str(run_dir / "mlruns"))
    experiment = client.get_experiment_by_name("graphmer-dist")
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])] == [run_id]
    run = client.get_run(run_id)
    assert run.data.params["train.lr"] == "0.001" and run.data.params["model.hidden_size"] == "64"
    history = client.get_metric_history(run_id, "train/loss")
    assert [m.step for m in history] == [2, 4, 6, 8]
    assert [m.value for m in history] == pytest.approx([r["loss"] for r in train_rows], rel=1e-6)
    assert [m.step for m in client.get_metric_history(run_id, "eval/val_loss")] == [4, 8]
    assert [a.path for a in client.list_artifacts(run_id)] == ["benchmark.json"]
    assert run.info.status == "FINISHED"


def test_a_sink_that_is_not_installed_is_one_error_naming_the_extra(tiny_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` meets without the package
    code = cli.main(["--platform", "local", "--config", "tiny", "--strategy", "single", "--dataset", str(tiny_dataset),
                     "--run-dir", str(tmp_path / "run"), "--steps", "2", "--set", "train.report_to=mlflow"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'graphmer-dist[mlflow]'" in err and "train.report_to" in err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_report_to_defaults_to_none_and_refuses_unknown_sinks():
    from graphmer_dist.config_loader import load_config
    from graphmer_dist.errors import ConfigError

    assert load_config("tiny").train.report_to == []
    assert load_config("tiny", ["train.report_to=none"]).train.report_to == []
    with pytest.raises(ConfigError, match=r"train.report_to.*wandb"):
        load_config("tiny", ["train.report_to=[tensorboard,wandb]"])

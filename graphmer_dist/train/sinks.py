"""Metrics sinks beside `metrics.jsonl`: TensorBoard and MLflow, asked for by `train.report_to`
(Hugging Face Trainer's convention; empty = none).

Both receive every row rank 0 logs, named `train/<key>` or `eval/<key>` (validation rows), at the
row's step. TensorBoard writes event files under `<run_dir>/tensorboard/`. MLflow logs to
`MLFLOW_TRACKING_URI`, else to a file store in `<run_dir>/mlruns`; the run it logs to is recorded in
`<run_dir>/mlflow.json`, so a resumed run (same run folder) continues the same MLflow run. The driver
calls `prepare_sinks` before training: it checks the extras are installed (one clear error instead of
a worker crash), creates the MLflow run with the resolved config as params, and writes mlflow.json,
which rank 0 then reads wherever it runs (a Ray worker does not see the driver's environment).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import tempfile
import time
from typing import Any, Iterator

from graphmer_dist.config import Config
from graphmer_dist.errors import ConfigError

EXTRAS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
"""Sink name → the module it needs (also the name of the pip extra that installs it)."""
MLFLOW_FILE = "mlflow.json"
EXPERIMENT = "graphmer-dist"
_SKIPPED = ("step", "time", "eval")


def check_installed(report_to: list[str]) -> None:
    missing = [name for name in report_to if importlib.util.find_spec(EXTRAS[name]) is None]
    if missing:
        extras = ",".join(missing)
        raise ConfigError(f"train.report_to asks for {' and '.join(missing)}, but {'they are' if len(missing) > 1 else 'it is'}"
                          f" not installed in this environment; install the extra with "
                          f"`pip install 'graphmer-dist[{extras}]'` (every worker's environment needs it too), "
                          f"or drop {extras} from train.report_to")


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """A logged row as sink metrics: numbers only, named by the kind of row."""
    prefix = "eval" if row.get("eval") else "train"
    return {f"{prefix}/{key}": float(value) for key, value in row.items()
            if key not in _SKIPPED and isinstance(value, (int, float)) and not isinstance(value, bool)}


def prepare_sinks(config: Config, run_dir: str) -> None:
    """On the driver, before any worker starts."""
    check_installed(config.train.report_to)
    if "mlflow" in config.train.report_to:
        mlflow_run(config, run_dir)


def open_sinks(config: Config, run_dir: str) -> list:
    """Rank 0's sinks for this run (none unless train.report_to asks)."""
    check_installed(config.train.report_to)
    makers = {"tensorboard": TensorBoardSink, "mlflow": MlflowSink}
    return [makers[name](config, run_dir) for name in config.train.report_to]


class TensorBoardSink:
    def __init__(self, config: Config, run_dir: str) -> None:
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(log_dir=_join(run_dir, "tensorboard"))

    def log(self, row: dict[str, Any]) -> None:
        for name, value in scalars(row).items():
            self.writer.add_scalar(name, value, global_step=row["step"])

    def attach(self, name: str, data: dict) -> None:
        pass  # TensorBoard has no place for files; the record is in the run folder anyway

    def close(self) -> None:
        self.writer.close()


class MlflowSink:
    def __init__(self, config: Config, run_dir: str) -> None:
        self.client, self.run_id = mlflow_run(config, run_dir)

    def log(self, row: dict[str, Any]) -> None:
        from mlflow.entities import Metric
        stamp = int(row.get("time", time.time()) * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(name, value, stamp, row["step"])
                                                    for name, value in scalars(row).items()])

    def attach(self, name: str, data: dict) -> None:
        with tempfile.TemporaryDirectory(prefix="graphmer-mlflow-") as folder:
            path = os.path.join(folder, name)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            self.client.log_artifact(self.run_id, path)

    def close(self) -> None:
        self.client.set_terminated(self.run_id, "FINISHED")


def mlflow_run(config: Config, run_dir: str):
    """(client, run id): the run recorded in <run_dir>/mlflow.json if it still exists on the same
    tracking server, else a new one with the resolved config as params, recorded there."""
    from graphmer_dist.storage import open_storage
    storage = open_storage(run_dir, config.checkpoint.s3_endpoint or None)
    known = json.loads(storage.read_bytes(MLFLOW_FILE)) if storage.exists(MLFLOW_FILE) else {}
    uri = os.environ.get("MLFLOW_TRACKING_URI") or known.get("tracking_uri") or _local_store(run_dir)
    client = _client(uri)
    if known.get("tracking_uri") == uri and _exists(client, known.get("run_id")):
        client.update_run(known["run_id"], status="RUNNING")
        return client, known["run_id"]
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    run = client.create_run(experiment_id, run_name=os.path.basename(run_dir.rstrip("/")) or None,
                            tags={"graphmer.run_dir": run_dir, "graphmer.config_hash": config.hash()})
    from mlflow.entities import Param
    params = [Param(key, str(value)[:6000]) for key, value in _flatten(config.to_dict()).items()]
    for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run.info.run_id, params=params[start:start + 100])
    storage.write_bytes(MLFLOW_FILE, json.dumps({"tracking_uri": uri, "run_id": run.info.run_id,
                                                 "experiment_id": experiment_id}, indent=1).encode())
    return client, run.info.run_id


def _local_store(run_dir: str) -> str:
    if "://" in run_dir:
        raise ConfigError(f"train.report_to has mlflow and the run folder {run_dir} is remote; set "
                          "MLFLOW_TRACKING_URI to your tracking server (the local store lives in a local run folder)")
    return "file://" + os.path.join(os.path.abspath(os.path.expanduser(run_dir)), "mlruns")


def _client(uri: str):
    from mlflow.tracking import MlflowClient
    with _file_store_allowed(uri):  # MLflow 3 refuses a file store unless asked; it is our local default
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)  # builds (and caches) the store while allowed
    return client


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    key = "MLFLOW_ALLOW_FILE_STORE"
    saved = os.environ.get(key)
    if uri.startswith("file:"):
        os.environ[key] = "true"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


def _exists(client, run_id: str | None) -> bool:
    if not run_id:
        return False
    from mlflow.exceptions import MlflowException
    try:
        return client.get_run(run_id).info.lifecycle_stage == "active"
    except MlflowException:
        return False


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _join(run_dir: str, name: str) -> str:
    return f"{run_dir.rstrip('/')}/{name}" if "://" in run_dir else os.path.join(run_dir, name)

"""`launch.runner.run(plan)` for strategy 'single': trains in-process, writes the run folder, prints
what it did, and never imports ray."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, sys
from types import SimpleNamespace
from graphmer_dist.config_loader import load_config
from launch import runner
config = load_config("tiny", ["model.attention=eager", "train.precision=fp32", "train.steps=4",
                              "checkpoint.every_steps=2", "data.dataset_dir=" + sys.argv[1]])
plan = SimpleNamespace(config=config, run_dir=sys.argv[2], use_gpu=False, resume_roots=[], time_limit_s=None,
                       address=None, platform="local", spec={"name": "local"},
                       to_json=lambda: json.dumps({"platform": "local", "strategy": "single"}))
code = runner.run(plan)
assert "ray" not in sys.modules, "strategy single imported ray"
sys.exit(code)
"""


def test_single_run_writes_the_run_folder_and_never_imports_ray(tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", CHILD, str(tiny_dataset), str(run_dir)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((run_dir / "config.json").read_text())["train"]["steps"] == 4
    assert json.loads((run_dir / "plan.json").read_text())["strategy"] == "single"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if not r.get("eval")] == [4]  # log_every=5 in tiny: the last step only
    assert any(r.get("eval") and "mlm_acc" in r for r in rows)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step-0000002", "step-0000004"]
    assert (run_dir / "benchmarks.jsonl").read_text().count("\n") == 1
    assert "trained 4/4 steps" in done.stdout and str(run_dir / "checkpoints") in done.stdout


def test_single_run_into_s3_checkpoints_there_and_resumes_from_there(tiny_dataset, s3, monkeypatch, tmp_path):
    """Run folder on the moto S3 endpoint: config, metrics and checkpoints land in the bucket, and a
    second run with more steps continues from the newest checkpoint there."""
    from types import SimpleNamespace

    from graphmer_dist.config_loader import load_config
    from launch import runner
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    run_dir = s3.uri("runs/one")

    def plan(steps: int):
        config = load_config("tiny", ["model.attention=eager", "train.precision=fp32", f"train.steps={steps}",
                                      "checkpoint.every_steps=2", "train.log_every=1", "train.eval_every=1000",
                                      f"data.dataset_dir={tiny_dataset}", f"checkpoint.s3_endpoint={s3.endpoint}"])
        return SimpleNamespace(config=config, run_dir=run_dir, use_gpu=False, resume_roots=[], time_limit_s=None,
                               address=None, platform="local", spec={}, to_json=lambda: "{}")

    assert runner.run(plan(2)) == 0
    assert runner.run(plan(4)) == 0
    keys = {o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket, Prefix="runs/one/")["Contents"]}
    assert {"runs/one/config.json", "runs/one/checkpoints/step-0000004/manifest.json",
            "runs/one/checkpoints/step-0000002/model.pt"} <= keys
    body = s3.client.get_object(Bucket=s3.bucket, Key="runs/one/metrics.jsonl")["Body"].read().decode()
    rows = [json.loads(line) for line in body.splitlines()]
    assert [row["step"] for row in rows if not row.get("eval")] == [1, 2, 3, 4]

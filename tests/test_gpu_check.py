"""benchmarks/gpu_check.sh runs in CI with DEVICE=cpu and tiny shapes, so the script the GPU machine
runs once cannot rot: every step must pass (or be skipped with its reason) and the table and JSON appear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_check_script_passes_on_cpu_with_tiny_shapes(tmp_path):
    env = {**os.environ, "DEVICE": "cpu", "OUT": str(tmp_path / "out"), "PYTHON": sys.executable,
           "GPU_CHECK_WORK": str(tmp_path / "work"), "GPU_CHECK_BUDGET_S": "400"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=450)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    status = {r["step"]: r["status"] for r in report["steps"]}
    failed = {r["step"]: r["detail"] for r in report["steps"] if r["status"] == "FAIL"}
    assert not failed, failed
    expected = {"env", "imports", "data tiny", "bench cpu-small fp32", "bench cpu-small fp16", "bench graphmert-base fp16",
                "train tiny fp16 kill+resume", "eval", "memory cpu-small fp16"}
    assert {s for s in expected if status.get(s) == "OK"} == expected, status  # "imports": ray/deepspeed/boto3 blocked
    train = next(r for r in report["steps"] if r["step"] == "train tiny fp16 kill+resume")
    assert train["identical"] is True and train["max_abs_diff"] == 0.0
    # One table, printed last.
    assert "== gpu_check: DEVICE=cpu" in done.stdout and done.stdout.rstrip().splitlines()[-1].startswith("wrote ")

"""`graphmer-launch data` as a user runs it: a subprocess, exit codes, no tracebacks for user errors."""

import json
import subprocess
import sys

from fixtures.datasets import TINY_DATASET_OVERRIDES, copy_stdlib_packages

SETS = [arg for item in TINY_DATASET_OVERRIDES for arg in ("--set", item)]


def run_data(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launch.cli", "data", "--config", "tiny", *SETS, *args],
                          capture_output=True, text=True, timeout=300)


def test_builds_prints_a_summary_then_reuses_the_cache(tmp_path):
    corpus = copy_stdlib_packages(tmp_path / "corpus", ("json",))
    out = tmp_path / "ds"
    first = run_data("--corpus", str(corpus), "--out", str(out), "--workers", "1")
    assert first.returncode == 0, first.stderr
    assert "triples / sequence" in first.stdout and "ontology pass rate" in first.stdout
    assert "link-prediction queries" in first.stdout and "test_lp" in first.stdout
    assert (out / "manifest.json").exists() and "reused" not in first.stdout
    assert f"dataset folder: {out}" in first.stdout
    nodes = json.loads((out / "manifest.json").read_text())["nodes_per_sequence"]["train"]
    assert "non-empty nodes" in first.stdout and f"train mean {nodes['mean']:.1f}, p99 {nodes['p99']}," in first.stdout
    second = run_data("--corpus", str(corpus), "--out", str(out))
    assert second.returncode == 0 and "reusing it" in second.stdout and "reused from cache" in second.stdout


def test_user_errors_exit_2_with_one_message_and_no_traceback(tmp_path):
    missing = run_data("--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "ds"))
    assert missing.returncode == 2
    assert "nowhere' does not exist" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.py").write_bytes(b"\xff\xfe\x00")
    skipped = run_data("--corpus", str(tmp_path / "broken"), "--out", str(tmp_path / "ds"))
    assert skipped.returncode == 2 and "could be parsed" in skipped.stderr and "Traceback" not in skipped.stderr
    bad_key = run_data("--set", "data.shard_sise=3", "--out", str(tmp_path / "ds"))
    assert bad_key.returncode == 2 and "did you mean 'shard_size'" in bad_key.stderr
    assert "Traceback" not in bad_key.stderr

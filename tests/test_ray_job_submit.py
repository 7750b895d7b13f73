"""`ray job submit` end to end (issue 4): a head started with `ray start --head` on loopback runs
`python -m launch.cli --platform cluster` as a Ray job, with this checkout as the job's working_dir.

The job forces 2 DDP workers (1 CPU each) so the run goes through Ray Train inside the job (the
plan alone would pick `single` on a 2-CPU node and never touch Ray Train). Checked: the job exits 0
and says it trained 6/6 steps, the plan is the cluster's (one node, ddp), Ray's checkpoint is our
`checkpoints/step-0000006/` with a 2-rank manifest, metrics.jsonl has step 6, and the uploaded
working_dir holds every package of the project (a too-broad exclude silently drops one).

The head is private to this test: its own ports and --temp-dir, so it never meets the session Ray
(tests/fixtures/ray_cluster.py). It is torn down by process id — never `ray stop`, which would kill
every Ray on the machine, including other test sessions'.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PROJECT_PACKAGES = ("graphmer_dist", "launch", "platforms")
# Anchored ("tests/data", not "data"): Ray reads excludes like .gitignore, where a bare "data" would
# also drop graphmer_dist/data from the upload.
EXCLUDES = [".venv", "runs", ".git", "tests/data", "**/__pycache__", ".pytest_cache", "*.egg-info"]
SUBMIT_TIMEOUT_S = 300
FIRST_STEP = re.compile(r"step 1/\d+ loss")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, pgid) of every live process (zombies count as gone: PID 1 may never reap them)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid, pgid = stat[stat.rindex(")") + 2:].split()[:3]
        if state != "Z":
            table[int(entry)] = (int(ppid), int(pgid))
    return table


def head_processes(group: int) -> set[int]:
    """The head's daemons share `ray start`'s process group; Ray's workers get groups of their own
    but stay children of the raylet, so add every descendant."""
    table = process_table()
    pids = {pid for pid, (_, pgid) in table.items() if pgid == group}
    while True:
        children = {pid for pid, (ppid, _) in table.items() if ppid in pids} - pids
        if not children:
            return pids
        pids |= children


def stop_head(group: int, grace_s: float = 5.0) -> None:
    """SIGTERM the head's processes (the raylet then stops its workers), SIGKILL what is left.
    The GCS and the autoscaler monitor sit out SIGTERM for 15 s or more; nothing of this head is kept."""
    pids = head_processes(group)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pids and time.monotonic() < deadline:
        time.sleep(0.5)
        pids &= set(process_table())
    for pid in pids | head_processes(group):
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture
def ray_head():
    """(dashboard URL, Ray temp dir, environment) of a fresh one-node head on loopback."""
    gcs, dashboard, client, agent = free_ports(4)
    # Ray's unix sockets live under --temp-dir and must fit in ~107 bytes: keep the path short.
    temp_dir = Path(tempfile.mkdtemp(prefix="rayjob-", dir="/tmp"))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = subprocess.Popen(
        [str(VENV_BIN / "ray"), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(gcs),
         "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--include-dashboard", "true",
         "--ray-client-server-port", str(client), "--dashboard-agent-listen-port", str(agent),
         "--num-cpus", "2", "--temp-dir", str(temp_dir), "--disable-usage-stats"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)  # its own process group: the handle for tearing the head down
    try:
        output, _ = start.communicate(timeout=120)
        assert start.returncode == 0, f"ray start failed:\n{output}"
        yield f"http://127.0.0.1:{dashboard}", temp_dir, env
    finally:
        if start.poll() is None:
            start.kill()
        stop_head(start.pid)
        shutil.rmtree(temp_dir, ignore_errors=True)


def run_streaming(command: list[str], env: dict, timeout_s: float) -> tuple[int, str, float | None]:
    """(exit code, output, seconds until the first training step was logged, or None)."""
    began = time.monotonic()
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    timer = threading.Timer(timeout_s, proc.kill)  # the head's teardown then stops the orphaned job
    timer.start()
    lines, first_step_s = [], None
    try:
        for line in proc.stdout:
            lines.append(line)
            if first_step_s is None and FIRST_STEP.search(line):
                first_step_s = time.monotonic() - began
        return proc.wait(), "".join(lines), first_step_s
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()


def uploaded_working_dirs(temp_dir: Path) -> list[Path]:
    """The unpacked packages (not their .zip.lock files); session_latest links to the head's only session."""
    folder = temp_dir / "session_latest" / "runtime_resources" / "working_dir_files"
    return sorted(path for path in folder.glob("_ray_pkg_*") if path.is_dir())


def project_packages(root: Path) -> set[str]:
    return {str(init.parent.relative_to(root)) for name in PROJECT_PACKAGES
            for init in (root / name).rglob("__init__.py") if "__pycache__" not in init.parts}


def test_ray_job_submit_trains_to_completion_on_a_loopback_head(ray_head, tmp_path):
    address, temp_dir, env = ray_head
    run_dir = tmp_path / "run"
    began = time.monotonic()
    code, output, first_step_s = run_streaming(
        [str(VENV_BIN / "ray"), "job", "submit", "--address", address, "--working-dir", str(REPO),
         "--runtime-env-json", json.dumps({"excludes": EXCLUDES}), "--",
         "python", "-m", "launch.cli", "--platform", "cluster", "--config", "tiny", "--steps", "6",
         "--run-dir", str(run_dir), "--corpus", str(REPO / "tests/data/corpus/shop"),
         "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "parallel.strategy=ddp",
         "--set", "parallel.num_workers=2", "--set", "parallel.cpus_per_worker=1", "--set", "train.log_every=1"],
        env, SUBMIT_TIMEOUT_S)
    print(f"ray job submit: first step after {first_step_s} s, done after {time.monotonic() - began:.1f} s")

    assert code == 0, f"ray job submit exited {code}:\n{output[-6000:]}"
    assert re.search(r"Job 'raysubmit_\w+' succeeded", output), output[-3000:]
    assert "trained 6/6 steps" in output, output[-3000:]
    assert first_step_s is not None, "the job never logged step 1"

    plan = json.loads((run_dir / "plan.json").read_text())
    assert (plan["platform"], plan["strategy"], plan["num_workers"]) == ("cluster", "ddp", 2)
    assert plan["spec"]["num_nodes"] == 1 and not plan["spec"]["shared_storage_required"]

    manifest = json.loads((run_dir / "checkpoints" / "step-0000006" / "manifest.json").read_text())
    assert (manifest["step"], manifest["world_size"], manifest["strategy"]) == (6, 2, "ddp")
    assert {"model.pt", "optimizer.pt", "train_state.json", "rng.rank001.pt"} <= set(manifest["files"])
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if not row.get("eval")] == [1, 2, 3, 4, 5, 6]

    uploads = uploaded_working_dirs(temp_dir)
    assert len(uploads) == 1, f"expected one uploaded working_dir, found {uploads}"
    missing = project_packages(REPO) - project_packages(uploads[0])
    assert not missing, f"the job's working_dir lacks packages {sorted(missing)}: an exclude is too broad"

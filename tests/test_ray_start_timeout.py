"""A local Ray cluster that cannot start (issue 15): the launcher prints one paragraph naming what failed
and the fixes, and exits with ClusterError's code, instead of Ray's traceback.

Both failures are triggered for real, each in a fresh launcher process (this session's own Ray must not
be joined): Ray's GCS start-up wait (RAY_gcs_server_port_wait_time_s) set to 0 seconds makes Ray's own
timeout fire while its GCS server starts; a RAY_TMPDIR too long for a Unix socket path is refused by Ray
before it starts anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from graphmer_dist.errors import ClusterError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def launch_ddp(dataset: Path, run_dir: Path, ray_tmp: Path, **env_vars: str) -> tuple[str, str]:
    """Run the launcher with a local 2-worker DDP plan; (the one error paragraph, all of stderr)."""
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # start, never join
    env.update({"PYTHONPATH": str(REPO), "RAY_TMPDIR": str(ray_tmp), **env_vars})
    command = [sys.executable, "-m", "launch.cli", "--platform", "local", "--config", "tiny",
               "--dataset", str(dataset), "--strategy", "ddp", "--num-workers", "2", "--steps", "1",
               "--run-dir", str(run_dir)]
    done = subprocess.run(command, cwd=run_dir.parent, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == ClusterError.exit_code != 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("graphmer-launch: error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    # Ray's processes for the failed start did not outlive the launcher.
    leftovers = subprocess.run(["pgrep", "-f", str(ray_tmp)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], leftovers
    return errors[0], done.stderr


def test_local_ray_that_does_not_start_in_time_is_one_paragraph_with_the_fixes(tiny_dataset, tmp_path):
    with tempfile.TemporaryDirectory(prefix="r", dir="/tmp") as short:  # short enough for Ray's sockets
        paragraph, _ = launch_ddp(tiny_dataset, tmp_path / "run", Path(short),
                                  RAY_gcs_server_port_wait_time_s="0")
    assert "the local Ray cluster did not start in time" in paragraph
    assert "Timed out waiting for file" in paragraph  # Ray's own reason, kept
    assert "RAY_gcs_server_port_wait_time_s=0" in paragraph  # the timeout in force, and the way to raise it
    assert f"RAY_TMPDIR ({short})" in paragraph and "--address HOST:6379" in paragraph


def test_ray_tmpdir_too_long_for_its_sockets_is_one_paragraph_with_the_fix(tiny_dataset, tmp_path):
    ray_tmp = tmp_path / ("deep" * 20)
    paragraph, _ = launch_ddp(tiny_dataset, tmp_path / "run", ray_tmp)
    assert f"RAY_TMPDIR ({ray_tmp}) is too long" in paragraph
    assert "AF_UNIX path length" in paragraph and "Set RAY_TMPDIR to a short local folder" in paragraph

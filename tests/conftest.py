"""Shared fixtures. Heavy ones live in tests/fixtures/ and are loaded as plugins:
one folder for DeepSpeed's JIT-built ops per environment, one local Ray per session (and the runs the Ray
tests make on it), one moto S3 server per session, one tiny dataset per session."""

import os

import pytest
import torch

pytest_plugins = ["fixtures.jit_ops", "fixtures.s3_server", "fixtures.ray_cluster", "fixtures.ray_runs",
                  "fixtures.datasets"]


# Variables torch sets on itself the first time it compiles or builds a fused optimizer: not a test's doing.
_SET_BY_LIBRARIES = {"PYTEST_CURRENT_TEST", "TORCHINDUCTOR_CACHE_DIR", "_TORCHINDUCTOR_PYOBJECT_TENSOR_DATA_PTR",
                     "_MLFLOW_TELEMETRY_SESSION_ID",  # mlflow, on first use (tests/test_sinks.py)
                     "CRC32C_SW_MODE"}  # tensorboardX, imported by Ray Tune's default loggers (tests/test_sweep.py)


@pytest.fixture(autouse=True)
def _no_leaked_environment():
    """Fail a test that leaves environment variables changed (use monkeypatch.setenv instead)."""
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    changed = sorted(k for k in set(before) | set(after)
                     if before.get(k) != after.get(k) and k not in _SET_BY_LIBRARIES)
    assert not changed, f"test leaked environment changes: {changed}"


@pytest.fixture
def one_thread():
    """Small models run fastest on one thread, and two threads on a busy 2-core machine spin ~50× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def restore_torch_state():
    """For tests of code that sets torch's global thread count (bench, the benchmark suite)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)

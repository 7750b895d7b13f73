"""What goes into checkpoint files: RNG states, torch objects as bytes, portable model state dicts."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from graphmer_dist.checkpoint import (capture_rng_state, portable_state_dict, restore_rng_state,
                                      strip_wrapper_prefixes, torch_bytes, torch_load)


@pytest.fixture(autouse=True)
def _inductor_cache(monkeypatch, tmp_path):
    """torch sets TORCHINDUCTOR_CACHE_DIR the first time an optimizer steps or a model is compiled."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))


def draw() -> tuple:
    return (random.random(), np.random.rand(3).tolist(), np.random.normal(), torch.rand(3).tolist())


def test_rng_state_round_trips_through_checkpoint_bytes():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.normal()  # leaves a cached gaussian in numpy's legacy state: it must be captured too
    saved = torch_bytes(capture_rng_state())
    expected = draw()
    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    assert draw() != expected
    restore_rng_state(torch_load(saved))
    assert draw() == expected


def test_torch_load_refuses_pickled_code():
    class Sneaky:
        def __reduce__(self):
            return (print, ("this must not run",))

    with pytest.raises(Exception, match="Weights only load failed"):
        torch_load(torch_bytes({"x": Sneaky()}))


def test_optimizer_state_round_trips(tmp_path):
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    restored = torch_load(torch_bytes(opt.state_dict()))
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fresh.load_state_dict(restored)
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_portable_state_dict_unwraps_compile_and_ddp(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    bare = model.state_dict()
    compiled = torch.compile(model)  # wrapping only; nothing is compiled until it is called
    assert set(compiled.state_dict()) != set(bare)  # the wrapper really adds '_orig_mod.'
    assert set(portable_state_dict(compiled)) == set(bare)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        ddp = DistributedDataParallel(model)
        portable = portable_state_dict(ddp)
    finally:
        dist.destroy_process_group()
    assert set(portable) == set(bare) and all(torch.equal(portable[k], bare[k]) for k in bare)
    torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3)).load_state_dict(portable)  # strict


def test_strip_wrapper_prefixes_handles_nesting():
    assert strip_wrapper_prefixes("module._orig_mod.encoder.module.w") == "encoder.module.w"
    assert strip_wrapper_prefixes("encoder.w") == "encoder.w"

"""DeepSpeed ZeRO 1, 2 and 3 under Ray Train on CPU (gloo): 2 workers train with falling loss, every
rank takes part in the save, and a second run continues from the checkpoint (the optimizer state gathered
whole from both ranks) where the first stopped."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from graphmer_dist.config_loader import load_config

pytestmark = pytest.mark.slow

BASE = ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
        "checkpoint.every_steps=3", "parallel.strategy=deepspeed", "parallel.num_workers=2",
        "train.global_batch_size=8", "train.lr=3e-3", "train.warmup_steps=1", "model.dropout=0",
        "model.hgat_dropout=0"]


@pytest.fixture(autouse=True)
def _inductor_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # torch sets it on first use


def run(dataset: Path, run_dir: Path, *overrides: str) -> int:
    from launch import runner
    config = load_config("tiny", [*BASE, f"data.dataset_dir={dataset}", *overrides])
    plan = SimpleNamespace(config=config, run_dir=str(run_dir), use_gpu=False, resume_roots=[], time_limit_s=None,
                           address=None, platform="local", spec={"name": "local"}, to_json=lambda: "{}")
    return runner.run(plan)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_zero_stage_trains_saves_and_resumes(ray_cluster, tiny_dataset, tmp_path, stage):
    run_dir = tmp_path / f"zero{stage}"
    assert run(tiny_dataset, run_dir, f"parallel.zero_stage={stage}", "train.steps=6") == 0
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in rows if not row.get("eval")]
    assert len(losses) == 6 and sum(losses[-2:]) < sum(losses[:2]), losses
    step6 = run_dir / "checkpoints" / "step-0000006"
    manifest = json.loads((step6 / "manifest.json").read_text())
    assert "deepspeed_optimizer.pt" in manifest["files"]  # the moments, gathered whole from both ranks
    portable = torch.load(step6 / "model.pt", weights_only=True)
    assert all(t.numel() > 0 for t in portable.values())  # gathered whole even under ZeRO-3

    # Continue the same run folder to step 7: a new Ray run resumes from step 6's DeepSpeed state.
    assert run(tiny_dataset, run_dir, f"parallel.zero_stage={stage}", "train.steps=7") == 0
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if not row.get("eval")][6:] == [7]
    assert (run_dir / "checkpoints" / "step-0000007" / "manifest.json").is_file()

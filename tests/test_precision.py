"""The one precision rule, the one GPU table, and fp16 with loss scaling run for real on this CPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from graphmer_dist.config_loader import load_config
from graphmer_dist.hardware import GPU_TABLE, cpu_has_bf16, find_gpu
from graphmer_dist.precision_rule import PrecisionError, choose_precision, cpu_caps, gpu_caps
from graphmer_dist.records.peaks import resolve_peak
from graphmer_dist.train.distributed import TorchStrategy, WorldInfo
from graphmer_dist.train.precision import build_precision

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_GPUS = ("T4", "P100", "V100", "A10", "A10G", "L4", "A100", "A100-80GB", "H100", "H100-PCIE", "H200",
                 "RTX3070", "RTX3080", "RTX3090", "RTX4090")
# What torch.cuda.get_device_name() says on each (as seen on Kaggle, Colab, AWS, Lambda, RunPod).
PROBED = {"Tesla T4": "T4", "Tesla P100-PCIE-16GB": "P100", "Tesla V100-SXM2-16GB": "V100", "NVIDIA A10": "A10",
          "NVIDIA A10G": "A10G", "NVIDIA L4": "L4", "NVIDIA A100-SXM4-40GB": "A100",
          "NVIDIA A100-SXM4-80GB": "A100-80GB", "NVIDIA A100 80GB PCIe": "A100-80GB",
          "NVIDIA H100 80GB HBM3": "H100", "NVIDIA H100 PCIe": "H100-PCIE", "NVIDIA H200": "H200",
          "NVIDIA GeForce RTX 3070": "RTX3070", "NVIDIA GeForce RTX 3080": "RTX3080",
          "NVIDIA GeForce RTX 3090": "RTX3090", "NVIDIA GeForce RTX 4090": "RTX4090"}


def test_the_gpu_table_holds_every_target_with_dense_peaks():
    names = [g.name for g in GPU_TABLE]
    assert set(REQUIRED_GPUS) <= set(names) and len(names) == len(set(names))
    for gpu in GPU_TABLE:
        assert gpu.memory_bytes >= 8 * 1024**3 and gpu.peak_flops["fp32"] < gpu.peak_flops["fp16"]
        # bf16 has a peak exactly where it is native; emulated bf16 gets no MFU.
        assert ("bf16" in gpu.peak_flops) == gpu.bf16 == (gpu.compute_capability >= (8, 0))
    # Dense, not the datasheets' 2:4-sparsity headline numbers; PCIe H100 is slower than SXM.
    assert find_gpu("H100").peak_flops["bf16"] == pytest.approx(989e12)
    assert find_gpu("H100 PCIe").peak_flops["bf16"] == pytest.approx(756e12)


@pytest.mark.parametrize("probed,name", sorted(PROBED.items()))
def test_probed_names_find_their_row_and_mfu_uses_its_datasheet_peak(probed, name):
    gpu = find_gpu(probed)
    assert gpu is not None and gpu.name == name
    precision = choose_precision("auto", gpu_caps(probed, gpu.compute_capability))
    assert resolve_peak(probed, precision, "cuda") == (gpu.peak_flops[precision], f"table:{name}/{precision}")


@pytest.mark.parametrize("name,cc,auto", [("Tesla T4", (7, 5), "fp16"), ("Tesla P100-PCIE-16GB", (6, 0), "fp16"),
                                          ("Tesla V100-SXM2-16GB", (7, 0), "fp16"), ("NVIDIA A10", (8, 6), "bf16"),
                                          ("NVIDIA H100 80GB HBM3", (9, 0), "bf16"),
                                          ("Some Future GPU", (10, 0), "bf16"), ("Old Kepler", (3, 7), "fp32")])
def test_auto_is_bf16_only_where_native_and_fp16_on_older_gpus(name, cc, auto):
    caps = gpu_caps(name, cc)
    assert choose_precision("auto", caps) == auto
    if auto != "bf16":
        with pytest.raises(PrecisionError, match=r"bf16 needs compute capability ≥ 8.0 and the .* lacks it"):
            choose_precision("bf16", caps)


def test_cpu_rule_follows_its_flags_and_allows_fp16_only_when_asked():
    caps = cpu_caps()
    assert choose_precision("auto", caps) == ("bf16" if cpu_has_bf16() else "fp32")
    assert choose_precision("fp16", caps) == "fp16"
    without = type(caps)("cpu", "old cpu", None, bf16=False, fp16=False)
    with pytest.raises(PrecisionError, match="bf16 needs avx512_bf16 or AMX on a CPU.*use fp32"):
        choose_precision("bf16", without)


def test_no_module_asks_torch_whether_bf16_is_supported():
    """torch.cuda.is_bf16_supported() counts emulation (yes on a T4): only the rule may decide."""
    offenders = [str(p.relative_to(ROOT)) for package in ("graphmer_dist", "launch", "platforms")
                 for p in (ROOT / package).rglob("*.py") if "is_bf16_supported(" in p.read_text(encoding="utf-8")]
    assert not offenders


def test_fp16_on_cpu_gets_a_cpu_grad_scaler():
    precision = build_precision("fp16", torch.device("cpu"))
    assert precision.name == "fp16" and precision.scaler is not None and precision.scaler._device == "cpu"
    with precision.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.float16 and torch.is_autocast_enabled("cpu")
    assert build_precision("fp32", torch.device("cpu")).scaler is None


def test_an_overflowing_step_is_skipped_and_does_not_advance_the_schedule(restore_torch_state):
    config = load_config("tiny", ["train.precision=fp16", "train.warmup_steps=5"])
    torch.manual_seed(0)
    strategy = TorchStrategy(torch.nn.Linear(4, 1), config, build_precision("fp16", torch.device("cpu")),
                             WorldInfo(0, 1))
    x = torch.randn(8, 4)
    before = [p.detach().clone() for p in strategy.raw_model.parameters()]
    scale = strategy.precision.scaler.get_scale()

    with strategy.precision.autocast():
        loss = strategy.model(x).float().mean() * float("inf")  # every gradient overflows
    strategy.backward(loss)
    strategy.step()
    assert all(torch.equal(a, b) for a, b in zip(before, strategy.raw_model.parameters()))
    assert strategy.precision.scaler.get_scale() == scale / 2
    assert strategy.scheduler.last_epoch == 0 and strategy.lr == pytest.approx(config.train.lr / 5)

    with strategy.precision.autocast():
        loss = strategy.model(x).float().mean()
    strategy.backward(loss)
    strategy.step()
    assert not all(torch.equal(a, b) for a, b in zip(before, strategy.raw_model.parameters()))
    assert strategy.scheduler.last_epoch == 1 and strategy.lr == pytest.approx(2 * config.train.lr / 5)


def _train(dataset: Path, run_dir: Path, steps: int) -> None:
    from graphmer_dist.train.loop import train_loop_per_worker
    config = load_config("tiny", ["model.attention=eager", "train.precision=fp16", "train.device=cpu",
                                  "train.num_threads=1", "train.eval_every=1000", "checkpoint.every_steps=3",
                                  f"train.steps={steps}"])
    job = {"config": config.to_dict(), "dataset_dir": str(dataset), "run_dir": str(run_dir), "resume": "auto"}
    assert train_loop_per_worker(job) == 0


def test_fp16_on_cpu_trains_checkpoints_the_scaler_and_resumes_bit_identically(tiny_dataset, tmp_path,
                                                                              restore_torch_state):
    reference = tmp_path / "reference"
    _train(tiny_dataset, reference, 6)
    # A run killed right after its step-3 checkpoint: the same folder without the later one.
    killed = tmp_path / "killed"
    shutil.copytree(reference, killed)
    shutil.rmtree(killed / "checkpoints" / "step-0000006")
    _train(tiny_dataset, killed, 6)

    def saved(run: Path, name: str):
        return torch.load(run / "checkpoints" / "step-0000006" / name, weights_only=True)

    expected, resumed = saved(reference, "model.pt"), saved(killed, "model.pt")
    assert [k for k in expected if not torch.equal(expected[k], resumed[k])] == []
    scaler = saved(reference, "optimizer.pt")["scaler"]
    # Plain numbers (JSON-safe) and identical after the resume, overflow back-offs included.
    assert all(isinstance(v, (int, float)) for v in scaler.values()) and 0 < scaler["scale"] <= 2.0**16
    assert saved(killed, "optimizer.pt")["scaler"] == scaler

# Importing graphmer_dist and the single-process launcher with ray/deepspeed/boto3 blocked: the 'imports'
# step of benchmarks/gpu_check.sh, which tests/test_gpu_check.py runs in the suite.

"""`graphmer-launch bench` and the FLOP count behind its MFU."""

import json

import pytest
import torch
from torch import nn

from graphmer_dist.bench.flops import training_flops_per_token
from graphmer_dist.bench.runner import run_benchmark
from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import ConfigError
from graphmer_dist.model import GraphMERForPretraining
from launch.cli import main

FIELDS = {"tokens_per_s", "flops_per_token", "achieved_flops", "peak_flops", "peak_dtype", "mfu", "params",
          "step_time_p50_s", "step_time_p90_s", "peak_memory_bytes", "device", "precision"}


def test_bench_json_has_every_field_and_a_plausible_mfu(tmp_path, capsys, restore_torch_state):
    out = tmp_path / "bench.json"
    assert main(["bench", "--config", "tiny", "--steps", "2", "--warmup", "1", "--precision", "fp32",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert FIELDS <= set(result)
    assert 0 < result["mfu"] <= 1
    assert result["precision"] == "fp32" and result["peak_dtype"] == "float32"
    assert result["achieved_flops"] == pytest.approx(result["tokens_per_s"] * result["flops_per_token"])
    assert result["step_time_p50_s"] <= result["step_time_p90_s"]
    assert len(result["step_times_s"]) == 2 and min(result["step_times_s"]) <= result["step_time_p50_s"]
    assert result["params"] == sum(p.numel() for p in GraphMERForPretraining(load_config("tiny").model).parameters())
    # bench runs where train.device=auto puts it: this machine's GPU when it has one.
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    assert result["peak_memory_bytes"] > 0 and result["device"].startswith(device)
    assert "tokens/s" in capsys.readouterr().out


def test_flop_count_matches_the_models_own_matmul_weights():
    """6 × (weights of every Linear the encoder runs per position + attention 2·N·d per layer
    + the heads' weights at the masked-root fraction of positions), read off the built model."""
    config = load_config("tiny")
    m, t = config.model, config.train
    model = GraphMERForPretraining(m, t)
    encoder_weights = sum(mod.weight.numel() for mod in model.encoder.modules() if isinstance(mod, nn.Linear))
    mlm = model.mlm_head.dense.weight.numel() + model.encoder.token_embedding.weight.numel()
    sbo = sum(mod.weight.numel() for mod in model.sbo_head.modules() if isinstance(mod, nn.Linear))
    fraction = t.mask_fraction * m.num_roots / m.seq_len
    macs = encoder_weights + m.num_layers * 2 * m.seq_len * m.hidden_size + fraction * (mlm + sbo)
    assert training_flops_per_token(m, t) == pytest.approx(6 * macs)


def test_asking_for_a_missing_gpu_is_a_config_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    config = load_config("tiny", ["train.device=cuda"])
    with pytest.raises(ConfigError, match="train.device.*no GPU"):
        run_benchmark(config, steps=1, warmup=0)

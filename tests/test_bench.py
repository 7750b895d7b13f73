"""`graphmer-launch bench` and the FLOP count behind its MFU."""

import json

import pytest
import torch
from torch import nn

from graphmer_dist.bench.flops import batch_training_flops, training_flops_per_token
from graphmer_dist.bench.runner import run_benchmark
from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import ConfigError
from graphmer_dist.model import GraphMERForPretraining
from launch.cli import main

FIELDS = {"tokens_per_s", "nonpad_tokens_per_s", "supervised_tokens_per_s", "nonpad_fraction", "flops_per_token",
          "achieved_flops", "peak_flops", "peak_dtype", "mfu", "params", "step_time_p50_s", "step_time_p90_s",
          "peak_memory_bytes", "device", "precision"}


def bench_json(tmp_path, dataset, *overrides) -> dict:
    out = tmp_path / f"bench{len(list(tmp_path.iterdir()))}.json"
    assert main(["bench", "--config", "tiny", "--steps", "2", "--warmup", "1", "--precision", "fp32",
                 "--dataset", str(dataset), "--json", str(out), *overrides]) == 0
    return json.loads(out.read_text())


def test_bench_json_has_every_field_and_a_plausible_mfu(tmp_path, capsys, restore_torch_state, tiny_dataset):
    result = bench_json(tmp_path, tiny_dataset)
    assert FIELDS <= set(result)
    assert 0 < result["mfu"] <= 1
    assert result["precision"] == "fp32" and result["peak_dtype"] == "float32"
    assert result["achieved_flops"] == pytest.approx(result["tokens_per_s"] * result["flops_per_token"])
    assert 0 < result["supervised_tokens_per_s"] < result["nonpad_tokens_per_s"] < result["tokens_per_s"]
    assert result["nonpad_tokens_per_s"] == pytest.approx(result["tokens_per_s"] * result["nonpad_fraction"])
    assert result["step_time_p50_s"] <= result["step_time_p90_s"]
    assert len(result["step_times_s"]) == 2 and min(result["step_times_s"]) <= result["step_time_p50_s"]
    assert result["params"] == sum(p.numel() for p in GraphMERForPretraining(load_config("tiny").model).parameters())
    # bench runs where train.device=auto puts it: this machine's GPU when it has one.
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    assert result["peak_memory_bytes"] > 0 and result["device"].startswith(device)
    assert "non-empty tokens/s" in capsys.readouterr().out


def test_bench_times_the_same_real_batches_padded_and_unpadded(tmp_path, restore_torch_state, tiny_dataset):
    """Real batches (their non-empty share is the dataset's, not a synthetic guess), the same ones
    with --set model.unpad=false, and the same needed FLOPs — only the time differs."""
    from graphmer_dist.data import open_dataset

    unpadded = bench_json(tmp_path, tiny_dataset)
    padded = bench_json(tmp_path, tiny_dataset, "--set", "model.unpad=false")
    assert unpadded["unpad"] and not padded["unpad"]
    assert unpadded["step_counts"] == padded["step_counts"]
    shard = open_dataset(tiny_dataset).load_shard("train", 0)["input_ids"]
    assert 0.05 < unpadded["nonpad_fraction"] < 0.95 and abs(unpadded["nonpad_fraction"] - (shard != 0).mean()) < 0.2


def test_flops_of_a_batch_count_only_non_empty_nodes_and_labelled_positions():
    config = load_config("tiny")
    m = config.model
    d, f, v = m.hidden_size, m.ffn_size, m.vocab_size
    mask = torch.zeros(2, m.seq_len, dtype=torch.bool)
    mask[0, :10], mask[1, :4] = True, True
    labels = torch.full((2, m.seq_len), -100)
    labels[0, 3] = 7
    batch = {"attention_mask": mask, "labels": labels, "sbo_labels": torch.tensor([7])}
    per_node = m.num_layers * (4 * d * d + 2 * d * f) + d * d
    attention = m.num_layers * 2 * d * (10 ** 2 + 4 ** 2)
    heads = (d * d + d * v) + (4 * d * d + d * v)
    assert batch_training_flops(m, batch) == pytest.approx(6 * (14 * per_node + attention + heads))


def test_bench_suite_does_not_import_the_bench_command_that_dispatches_to_it():
    import inspect

    import launch.bench_suite
    assert "cmd_bench" not in inspect.getsource(launch.bench_suite)


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

"""The fast attention path equals the eager reference; padding never produces NaN."""

import dataclasses

import pytest
import torch

from graphmer_dist.config import ModelConfig
from graphmer_dist.model import GraphMER
from graphmer_dist.model.attention import eager_attention, key_bias_for
from graphmer_dist.model.compiled import COMPILE_MIN_ELEMENTS

# N = 64 · 8 = 512 with 4 heads: one sequence has 4·512² ≈ 1M score elements, enough for the fast
# path to compile its layers (COMPILE_MIN_ELEMENTS); the model is narrow to keep it quick.
FAST = ModelConfig(vocab_size=300, hidden_size=32, num_layers=2, num_heads=4, ffn_size=64, num_roots=64,
                   leaves_per_root=7, dropout=0.0, hgat_dropout=0.0, attention="flex")


@pytest.fixture(autouse=True)
def inductor_environment(monkeypatch):
    """torch.compile's inductor sets these process-wide on first use; restore them after the test."""
    for name in ("TORCHINDUCTOR_CACHE_DIR", "_TORCHINDUCTOR_PYOBJECT_TENSOR_DATA_PTR"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)


def batch(model: ModelConfig, B: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    R, N = model.num_roots, model.seq_len
    input_ids = torch.randint(5, model.vocab_size, (B, N), generator=g)
    attention_mask = torch.rand(B, N, generator=g) < 0.6
    attention_mask[:, :R] = True
    input_ids[~attention_mask] = 0
    leaf_relation = torch.where(torch.rand(B, R, generator=g) < 0.2,
                                torch.randint(1, model.num_relations, (B, R), generator=g), 0)
    head_length = torch.randint(1, 3, (B, R), generator=g)
    return input_ids, attention_mask, leaf_relation, head_length


@pytest.mark.slow  # compiles a layer: ~15 s on 2 idle cores, more when the machine is busy
def test_fast_path_equals_eager_forward_and_gradients_including_p():
    assert 1 * FAST.num_heads * FAST.seq_len ** 2 >= COMPILE_MIN_ELEMENTS
    torch.manual_seed(0)
    fast = GraphMER(FAST)
    eager = GraphMER(dataclasses.replace(FAST, attention="eager"))
    eager.load_state_dict(fast.state_dict())
    with torch.no_grad():
        fast.decay_p.copy_(torch.tensor([0.5, 1.0, 1.5, 2.5]))   # distinct heads, so p's gradient is not symmetric
        eager.decay_p.copy_(fast.decay_p)
    input_ids, attention_mask, leaf_relation, head_length = batch(FAST, B=2)
    attention_mask[1], input_ids[1] = False, 0       # a fully padded sequence goes through the compiled path too
    inputs = (input_ids, attention_mask, leaf_relation, head_length)
    weights = torch.randn(2, FAST.seq_len, FAST.hidden_size)
    outputs = []
    for model in (fast, eager):
        y = model(*inputs)
        (y * weights).sum().backward()
        outputs.append(y)
    assert torch.allclose(outputs[0], outputs[1], atol=1e-5)
    assert torch.all(outputs[0][1] == 0)
    for (name, p_fast), p_eager in zip(fast.named_parameters(), eager.parameters()):
        if p_eager.grad is None:
            assert p_fast.grad is None, name
            continue
        scale = p_eager.grad.abs().max()
        assert (p_fast.grad - p_eager.grad).abs().max() <= 1e-4 * scale, name
    assert fast.decay_p.grad.abs().min() > 0
    assert all(torch.isfinite(p.grad).all() for p in fast.parameters() if p.grad is not None)


def test_padded_keys_get_no_attention():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 2, 8, 4, generator=g) for _ in range(3))
    decay = torch.rand(2, 8, 8, generator=g)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    bias, _ = key_bias_for(mask)
    changed_v = v.clone()
    changed_v[..., 5:, :] = 1e6                       # values behind padding must not leak into any row
    assert torch.allclose(eager_attention(q, k, v, decay, bias), eager_attention(q, k, changed_v, decay, bias))


def test_fully_padded_sequence_gives_zeros_not_nan_in_output_and_gradients():
    model_config = dataclasses.replace(FAST, num_roots=8, leaves_per_root=3, max_span_length=3, attention="eager")
    for attention in ("eager", "flex"):
        model = GraphMER(dataclasses.replace(model_config, attention=attention))
        input_ids, attention_mask, leaf_relation, head_length = batch(model_config, B=2)
        attention_mask[1] = False                     # the whole second sequence is padding
        input_ids[1] = 0
        y = model(input_ids, attention_mask, leaf_relation, head_length)
        assert torch.all(y[1] == 0) and torch.isfinite(y).all()
        y.sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_runs_under_cpu_bf16_autocast():
    model_config = dataclasses.replace(FAST, num_roots=8, leaves_per_root=3, max_span_length=3)
    model = GraphMER(model_config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(*batch(model_config, B=2))
    y.float().sum().backward()
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()
    assert model.decay_p.grad is not None and torch.isfinite(model.decay_p.grad).all()


def test_compiles_only_large_shapes_and_never_zero3_partitioned_layers():
    from graphmer_dist.model.compiled import worth_compiling
    from graphmer_dist.model.encoder import EncoderLayer

    layer = EncoderLayer(FAST)
    big, small = torch.zeros(1, FAST.seq_len, 1), torch.zeros(1, 64, 1)
    assert worth_compiling(big, FAST.num_heads, layer) and not worth_compiling(small, FAST.num_heads, layer)
    for p in layer.parameters():
        p.ds_id = 0                                   # what DeepSpeed ZeRO-3 puts on partitioned parameters
    assert not worth_compiling(big, FAST.num_heads, layer)

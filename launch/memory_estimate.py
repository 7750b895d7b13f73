"""Memory per device for a GraphMER-SE training process, from the config alone.

    total = model states (params, grads, optimizer; sharded by ZeRO) + activations + the decay mask

Model states follow the ZeRO paper's accounting with Adam. Activations count what autograd keeps
per layer for a micro-batch of L computed nodes per sequence, including the (B, H, L, L) attention
scores, and the logits of the rows the heads score. L is N = R·(K+1) for the padded model
(model.unpad=false); the unpadded model computes only the non-empty nodes, and a micro-batch is as long
as its longest sequence: L = the longest training sequence's count, bucketed (model/layout.py). Both
that count and the scored rows come from the dataset when it is built, or from an assumption
(`SequenceShape`, launch/data_shape.py).
It is an estimate (allocator fragmentation and CUDA context are covered by the plan's headroom), good
enough to choose a strategy and micro-batch; tests pin the parameter count to the real model.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.layout import BUCKET, padded_length
from launch.data_shape import SequenceShape, assumed_shape

# DDP keeps gradient buckets beside the gradients (a copy unless gradient_as_bucket_view).
DDP_BUCKET_BYTES_PER_PARAM = 4


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    params: int
    """Parameter count of the model."""
    model_states_bytes: int
    activations_bytes: int
    decay_mask_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.model_states_bytes + self.activations_bytes + self.decay_mask_bytes

    def to_dict(self) -> dict[str, int]:
        return {"params": self.params, "model_states_bytes": self.model_states_bytes,
                "activations_bytes": self.activations_bytes, "decay_mask_bytes": self.decay_mask_bytes,
                "total_bytes": self.total_bytes}


def param_count(model: ModelConfig) -> int:
    d, f, V, L = model.hidden_size, model.ffn_size, model.vocab_size, model.num_layers
    embeddings = V * d                                            # token embedding, tied to the MLM decoder
    hgat = model.num_relations * (d * d + 2 * d)                  # W_r (d×d) and a_r (2d) per relation id
    layer = (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 2 * (2 * d)  # qkv, out, FFN, 2 LN
    final = d * d + d + 2 * d                                     # y = LN(GELU(W0 x))
    mlm_head = d * d + d + 2 * d + V                              # dense, LN, decoder bias (weight tied)
    sbo_head = model.max_span_length * d + (3 * d * d + d) + 2 * d + (d * d + d) + 2 * d + (d * V + V)
    return embeddings + hgat + L * layer + final + mlm_head + sbo_head + model.num_heads + _option_params(model)


def _option_params(model: ModelConfig) -> int:
    """Parameters of the recipe options beyond the paper (model/encoder.py, copy_head.py, length_head.py)."""
    d = model.hidden_size
    count = 0
    if model.position == "learned":
        count += (model.num_roots + model.leaves_per_root + 1) * d      # root index, leaf slot (+ root)
    if model.relation_embedding:
        count += model.num_relations * d
    if model.embedding_norm:
        count += 2 * d
    if model.norm == "pre":
        count += 2 * d                                                  # the LN before the final transform
    if model.copy_head:
        count += 2 * (d * d + d) + d + 1                                # query, key, gate
    if model.length_head:
        K = model.leaves_per_root
        count += model.num_relations * d + (2 * d * d + d) + (d * K + K)  # relation table, 2-layer MLP
    return count


def largest_layer_params(model: ModelConfig) -> int:
    """Parameters of the biggest single module (H-GAT's per-relation W_r/a_r, the token embedding or the
    SBO vocabulary decoder): what ZeRO-3 gathers whole, in fp32, while that module runs."""
    d, f, V = model.hidden_size, model.ffn_size, model.vocab_size
    return max(model.num_relations * (d * d + 2 * d), V * d + V, d * f + f, 3 * d * d + 3 * d)


def model_state_bytes(model: ModelConfig, params: int, strategy: str, zero_stage: int, workers: int, mixed: bool,
                      offload_optimizer: bool = False) -> int:
    """Bytes per device for weights, gradients and AdamW states.

    torch autocast (single/DDP) keeps fp32 weights and grads: 4 + 4 + 8 (Adam m, v) bytes per param.
    DeepSpeed with bf16/fp16 keeps 2-byte weights and grads, plus the optimizer's partition in fp32:
    gradients (4), master weights (4), m and v (8). ZeRO shards that partition (stage 1), then the
    2-byte grads (2), then the 2-byte weights (3, which gathers the largest module whole while it runs).
    This is the accounting of DeepSpeed's own estimators (estimate_zero2/3_model_states_mem_needs);
    tests/test_memory_estimate.py checks agreement within 10%. With optimizer offload the fp32
    partition lives in host RAM (`offload_ram_bytes`).
    """
    if strategy != "deepspeed":
        bucket = DDP_BUCKET_BYTES_PER_PARAM if strategy == "ddp" else 0
        return params * (16 + bucket)
    shard = max(1, workers)
    weight, grad = (2, 2) if mixed else (4, 4)
    partition = 0 if offload_optimizer else (16 if mixed else 8)   # fp32 grads + master + m + v (fp32: m + v)
    if zero_stage >= 3:
        gathered = 4 * largest_layer_params(model)
        return int(params * (weight + partition) / shard) + gathered  # 16-bit grads are reduce-scattered away
    if offload_optimizer:
        return params * weight   # grads are reduced straight into the host partition
    grad_b = grad / shard if zero_stage >= 2 else grad
    return int(params * (weight + grad_b + partition / shard))


# Host-side buffers (pinned staging, fragmentation) on top of the offloaded states, as DeepSpeed's
# estimators assume.
OFFLOAD_BUFFER_FACTOR = 1.5


def offload_ram_bytes(params: int, workers: int = 1) -> int:
    """CPU RAM per node that ZeRO optimizer offload needs: every rank's fp32 partition (grads, master,
    m, v = 16 bytes/param over the run) lives in that node's RAM, and each rank stages a whole fp32
    copy of the params (4 bytes each) — whichever is larger — times the buffer factor."""
    return int(params * max(4 * workers, 16) * OFFLOAD_BUFFER_FACTOR)


def computed_nodes(model: ModelConfig, shape: SequenceShape | None = None) -> int:
    """Nodes per sequence the model computes in its longest micro-batch: N padded; unpadded, the longest
    sequence's non-empty nodes rounded up to BUCKET (never above N). That is exact for compiled layers;
    eager ones pad to EAGER_BUCKET (model/layout.py), so for them it is an upper bound, < BUCKET over."""
    if not model.unpad:
        return model.seq_len
    return padded_length((shape or assumed_shape(model)).longest, model.seq_len, BUCKET)


def activation_bytes(model: ModelConfig, micro_batch: int, act_bytes: int, shape: SequenceShape | None = None) -> int:
    """What autograd saves for one micro-batch (B sequences of L computed nodes), all layers plus the heads."""
    shape = shape or assumed_shape(model)
    B, L, d, f, H = micro_batch, computed_nodes(model, shape), model.hidden_size, model.ffn_size, model.num_heads
    # Per node per layer: LN/QKV inputs, q, k, v, context, FFN input, pre- and post-GELU (f each),
    # LN input → ≈ 8d + 2f values at the compute precision, plus two 1-byte dropout masks of d.
    linear = B * L * ((8 * d + 2 * f) * act_bytes + 2 * d)
    # The attention scores: q·kᵀ (compute precision), softmax output in fp32 and its cast back.
    scores = B * H * L * L * (2 * act_bytes + 4)
    per_layer = linear + scores
    transient = B * H * L * L * 4                                 # one fp32 (B,H,L,L) in flight (logits / grad)
    embeddings = B * L * d * (4 + 4)                              # embedding output and H-GAT fused copy
    # The heads score their rows only (padded or not): logits at the compute precision, their fp32
    # log-softmax and its gradient.
    row_bytes = model.vocab_size * (act_bytes + 4 + 4)
    mlm_rows = shape.mlm_rows(B)
    logits = int(mlm_rows + B * shape.sbo_rows) * row_bytes
    copy = copy_head_bytes(model, mlm_rows, L, act_bytes) if model.copy_head else 0
    # H-GAT gathers its relation's d×d matrix per injected triple (model/hgat.py), kept for backward.
    hgat = int(B * shape.triples) * d * d * act_bytes
    return model.num_layers * per_layer + transient + embeddings + logits + copy + hgat


def copy_head_bytes(model: ModelConfig, rows: float, L: int, act_bytes: int) -> int:
    """model.copy_head (model/copy_head.py), per scored row: training takes −log p(target), so what
    autograd keeps is (L,)-sized — the row's scores, its attention over the sources and the copy mass at
    the target, fp32 — not (V,) rows (counted with saved-tensor hooks on cpu-small)."""
    return int(rows * L * 4 * 3)


def decay_mask_bytes(model: ModelConfig, micro_batch: int, shape: SequenceShape | None = None) -> int:
    """D in fp32 and what its backward to the learnable p_h keeps (the GELU's input, the exp's output):
    (H, N, N) once when padded, (B, H, L, L) per micro-batch when unpadded (each sequence has its own nodes)."""
    L = computed_nodes(model, shape)
    copies = 1 if not model.unpad else micro_batch
    return 3 * copies * model.num_heads * L * L * 4


def estimate(model: ModelConfig, *, micro_batch: int, precision: str, strategy: str, zero_stage: int,
             workers: int, offload_optimizer: bool = False, shape: SequenceShape | None = None) -> MemoryEstimate:
    """`shape`: the training sequences' nodes and scored rows (launch/data_shape.py); None = assumed."""
    params = param_count(model)
    mixed = precision in ("bf16", "fp16")
    # torch autocast (single/DDP) casts each weight to 16 bits per use and backward keeps the copy;
    # DeepSpeed's mixed precision holds 16-bit weights already (in the model states).
    autocast_copies = 2 * params if mixed and strategy != "deepspeed" else 0
    return MemoryEstimate(
        params=params,
        model_states_bytes=model_state_bytes(model, params, strategy, zero_stage, workers, mixed, offload_optimizer),
        activations_bytes=activation_bytes(model, micro_batch, 2 if mixed else 4, shape) + autocast_copies,
        decay_mask_bytes=decay_mask_bytes(model, micro_batch, shape),
    )

"""The typed config tree: one frozen dataclass per section, checked when built.

Precedence: CLI flags > `--set section.key=value` > YAML file > the defaults below. Every field here
takes effect somewhere; a key that is not a field is refused by the loader (`config_loader.py`).
Cross-field rules live in `__post_init__` and name the key that fixes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from graphmer_dist.errors import ConfigError
from graphmer_dist.relations import NUM_RELATION_IDS


def choice(default: Any, *options: Any) -> Any:
    """A field restricted to `options`; the loader and overrides check membership."""
    return field(default=default, metadata={"choices": options})


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}': {message}")


EXECUTION_ONLY_MODEL_KEYS = ("unpad",)
"""Model keys that change how the model runs, not its weights or results: left out of model_hash, so
a checkpoint resumes and evaluates with either setting."""

LATER_MODEL_OPTIONS = ("copy_span", "length_head")
"""Model keys added after checkpoints existed: at their default (off) they are left out of model_hash,
so a checkpoint written before the key existed still resumes with it off. Append new options here."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelConfig:
    vocab_size: int = 8000
    """Byte-level BPE vocabulary size, special tokens included (also the tokenizer's target size)."""
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    ffn_size: int = 1024
    num_roots: int = 64
    """R: code tokens per sequence, [CLS] and [SEP] included."""
    leaves_per_root: int = 7
    """K: leaf slots per root; a triple's tail longer than K tokens is not injected."""
    max_span_length: int = 7
    """Longest masked root span; also the number of SBO relative-position embeddings."""
    dropout: float = 0.1
    hgat_dropout: float = 0.3
    decay_lambda: float = 0.6
    decay_p_init: float = 1.0
    decay_mode: str = choice("multiply", "multiply", "add")
    """'multiply' = the decay mask multiplies the scaled logits (paper); 'add' = log D is added to them, so
    it multiplies the attention weights instead (docs/recipe.md)."""
    position: str = choice("none", "none", "rotary", "learned")
    """'none' = order only from the (symmetric) decay mask (paper); 'rotary' = queries and keys rotated by
    (root index, leaf slot), a directional signal (model/positions.py, docs/recipe.md); 'learned' = a
    learned embedding of the root index and one of the leaf slot added to every node's input."""
    relation_embedding: bool = False
    """Add a learned embedding of the block's relation to every leaf's input (beyond the paper, whose
    leaves learn the relation only through H-GAT's W_r·head)."""
    norm: str = choice("post", "post", "pre")
    """'post' = LN after each residual add (paper, BERT); 'pre' = LN on each branch's input, a final LN."""
    copy_head: bool = False
    """Masked tokens may also be predicted by pointing at a code token of the sequence (model/copy_head.py)."""
    copy_span: bool = False
    """With copy_head: the leaves of one tail share one pointer to where the tail starts in the code, and
    slot j copies the token j roots after it (model/copy_head.py)."""
    length_head: bool = False
    """Predict each tail's token count from its relation and head name (model/length_head.py), so link
    prediction scores a tail as P(L)·P(tokens | L) rather than P(tokens | L) alone."""
    embedding_norm: bool = False
    """LN over the input embeddings (after H-GAT), as BERT has; the paper has none."""
    attention: str = choice("flex", "flex", "eager")
    """'flex' = the fused fast path used for training, 'eager' = the reference it is tested against."""
    unpad: bool = True
    """Compute only the nodes that hold a token (model/layout.py); false = every position of the flat
    sequence, the padded reference. Same weights and results either way, so not part of model_hash."""
    init_std: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self) -> None:
        _check(self.hidden_size % self.num_heads == 0, "model.hidden_size",
               f"{self.hidden_size} is not divisible by model.num_heads={self.num_heads}; "
               "pick a hidden size that is a multiple of the head count")
        _check(self.num_roots >= 4, "model.num_roots", "must be at least 4 ([CLS], two tokens, [SEP])")
        _check(self.leaves_per_root >= 1, "model.leaves_per_root", "must be at least 1")
        _check(self.vocab_size >= 300, "model.vocab_size",
               f"{self.vocab_size} is too small for a byte-level BPE (256 bytes + special tokens); use ≥ 300")
        _check(0 <= self.dropout < 1 and 0 <= self.hgat_dropout < 1, "model.dropout",
               "dropout probabilities must be in [0, 1)")
        _check(0 < self.decay_lambda < 1, "model.decay_lambda", "must be in (0, 1)")
        _check(self.copy_head or not self.copy_span, "model.copy_span",
               "span copy changes how the copy head points, so it needs model.copy_head=true; set both or neither")
        _check(1 <= self.max_span_length <= self.num_roots - 2, "model.max_span_length",
               "must be between 1 and num_roots - 2")

    @property
    def seq_len(self) -> int:
        """N = R·(K+1): roots first, then K leaf slots per root."""
        return self.num_roots * (self.leaves_per_root + 1)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def num_relations(self) -> int:
        """Relation ids including 0 = none; fixed by `graphmer_dist.relations`."""
        return NUM_RELATION_IDS


@dataclass(frozen=True, kw_only=True, slots=True)
class DataConfig:
    corpus: list[str] = field(default_factory=list)
    """Files or folders of source code. Empty = the running interpreter's standard library."""
    dataset_dir: str = ""
    """Where the built dataset lives. Empty = a content-addressed folder under `cache_dir`."""
    cache_dir: str = "~/.cache/graphmer-dist/datasets"
    languages: list[str] = field(default_factory=lambda: ["python"])
    exclude: list[str] = field(default_factory=lambda: ["site-packages", "__pycache__", "node_modules", ".git"])
    """Path components that are never walked into."""
    max_file_bytes: int = 1_000_000
    """Larger files (usually generated) are skipped and counted in the manifest."""
    file_val_fraction: float = 0.05
    file_test_fraction: float = 0.05
    triple_val_fraction: float = 0.05
    triple_test_fraction: float = 0.10
    triple_split_by: str = choice("entity_pair", "entity_pair", "head_relation")
    """What is held out together. 'entity_pair': every fact about the same two entities, any relation or
    direction, so a test fact cannot be answered from its reverse in train ((C, contains, m) for
    (m, defined_in, C)). 'head_relation': the older split, by (head, relation), for comparison."""
    train_sequences: str = choice("with_triples", "with_triples", "all")
    """Which chunks of the training files become training sequences (docs/design.md §1). 'with_triples':
    only those carrying at least one injected triple: a chunk of docstrings, comments or data tables
    (20% of the stdlib's train chunks) teaches the leaf objective nothing. 'all': every chunk. Val and
    test keep every chunk either way."""
    shard_size: int = 1024
    """Sequences per shard file."""
    workers: int = 0
    """Processes for extraction; 0 = one per CPU core. Above 1, the tokenizer also trains and encodes in a
    helper process while the KG links (data/corpus_encoding.py)."""
    tokenizer_min_frequency: int = 2
    max_lp_sequences: int = 4096
    """Cap per link-prediction split (val_lp, test_lp): sequences from ANY file that carry held-out
    facts of that split, sampled deterministically when there are more. 0 = no such splits."""

    def __post_init__(self) -> None:
        for key in ("file_val_fraction", "file_test_fraction", "triple_val_fraction", "triple_test_fraction"):
            _check(0 <= getattr(self, key) < 0.5, f"data.{key}", "must be in [0, 0.5)")
        _check(self.shard_size >= 1, "data.shard_size", "must be at least 1")
        _check(self.max_file_bytes >= 1, "data.max_file_bytes", "must be at least 1")
        _check(self.workers >= 0, "data.workers", "must be ≥ 0 (0 = all cores)")
        _check(self.max_lp_sequences >= 0, "data.max_lp_sequences", "must be ≥ 0 (0 = no link-prediction splits)")
        bad = sorted(set(self.languages) - {"python", "java", "javascript"})
        _check(not bad, "data.languages", f"unknown language(s) {bad}; choose from python, java, javascript")


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    steps: int = 2000
    """Optimizer steps (each is grad_accum micro-batches per worker)."""
    micro_batch_size: int = 8
    """Sequences per worker per forward pass."""
    global_batch_size: int = 8
    """Sequences per optimizer step over all workers; must be micro_batch_size × workers × accumulation."""
    lr: float = 4e-4
    min_lr: float = 1e-5
    warmup_steps: int = 500
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: float = 1.0
    precision: str = choice("auto", "auto", "fp32", "bf16", "fp16")
    """'auto' = bf16 where the device supports it, fp16 + loss scaling on older GPUs, fp32 otherwise."""
    device: str = choice("auto", "auto", "cpu", "cuda")
    seed: int = 0
    log_every: int = 10
    eval_every: int = 200
    eval_batches: int = 20
    eval_queries: int = 256
    """val_lp link-prediction queries scored every eval_every steps (val_tail_mrr beside its count
    baseline, the same fixed sample each time); 0 = none."""
    mask_fraction: float = 0.15
    span_geometric_p: float = 0.2
    leaf_mask_prob: float = 0.15
    leaf_corruption: str = choice("bert", "bert", "mask")
    """How a chosen tail's tokens are hidden: 'bert' = 80% [MASK], 10% random, 10% unchanged (paper, as for
    roots); 'mask' = always [MASK], the input link prediction asks about (eval/queries.py)."""
    loss: str = choice("combined", "combined", "separate")
    """'combined' = one CE over masked roots and leaves (paper); 'separate' adds a leaf term weighted by leaf_loss_weight."""
    leaf_loss_weight: float = 1.0
    sbo_weight: float = 1.0
    tail_negatives: int = 0
    """Tail-ranking loss (model/pretraining.py): each masked tail's summed token log-probabilities are
    ranked by softmax against this many train tails of its relation and length, the ranking link
    prediction scores. 0 = off (the paper's token losses only)."""
    tail_loss_weight: float = 1.0
    time_limit: str = ""
    """Wall-clock budget like '11h30m'; the run checkpoints and stops before it ends. Empty = none."""
    dataloader_workers: int = 0
    num_threads: int = 0
    """torch intra-op threads per process; 0 = torch's default."""
    report_to: list[str] = field(default_factory=list)
    """Metrics sinks beside metrics.jsonl: tensorboard, mlflow (train/sinks.py). Empty = none."""

    def __post_init__(self) -> None:
        _check(self.steps >= 1, "train.steps", "must be at least 1")
        _check(self.micro_batch_size >= 1, "train.micro_batch_size", "must be at least 1")
        _check(self.global_batch_size % self.micro_batch_size == 0, "train.global_batch_size",
               f"{self.global_batch_size} is not a multiple of train.micro_batch_size={self.micro_batch_size}")
        _check(0 < self.min_lr <= self.lr, "train.min_lr", "must be in (0, train.lr]")
        _check(self.warmup_steps >= 0, "train.warmup_steps", "must be ≥ 0")
        _check(0 < self.mask_fraction < 1, "train.mask_fraction", "must be in (0, 1)")
        _check(0 < self.span_geometric_p <= 1, "train.span_geometric_p", "must be in (0, 1]")
        _check(0 <= self.leaf_mask_prob <= 1, "train.leaf_mask_prob", "must be in [0, 1]")
        _check(self.grad_clip > 0, "train.grad_clip", "must be > 0")
        _check(self.tail_negatives >= 0, "train.tail_negatives", "must be ≥ 0 (0 = no tail-ranking loss)")
        _check(self.tail_loss_weight >= 0, "train.tail_loss_weight", "must be ≥ 0")
        _check(self.eval_queries >= 0, "train.eval_queries", "must be ≥ 0 (0 = no link-prediction validation)")
        parse_duration(self.time_limit, "train.time_limit")
        bad = sorted(set(self.report_to) - {"tensorboard", "mlflow"})
        _check(not bad, "train.report_to", f"unknown sink(s) {bad}; choose from tensorboard, mlflow (or none)")


@dataclass(frozen=True, kw_only=True, slots=True)
class ParallelConfig:
    strategy: str = choice("single", "single", "ddp", "deepspeed")
    num_workers: int = 1
    """Training processes (Ray workers); one device each."""
    zero_stage: int = choice(0, 0, 1, 2, 3)
    """DeepSpeed ZeRO stage; 0 unless strategy is 'deepspeed'."""
    offload_optimizer: bool = False
    """ZeRO: keep optimizer states in CPU memory."""
    max_failures: int = 2
    """Ray restarts the worker group from the last checkpoint this many times."""
    cpus_per_worker: int = 1

    def __post_init__(self) -> None:
        _check(self.num_workers >= 1, "parallel.num_workers", "must be at least 1")
        _check(self.strategy != "single" or self.num_workers == 1, "parallel.num_workers",
               f"strategy 'single' runs one process, not {self.num_workers}; use --strategy ddp for more workers")
        _check((self.strategy == "deepspeed") == (self.zero_stage > 0), "parallel.zero_stage",
               f"zero_stage={self.zero_stage} with strategy '{self.strategy}': ZeRO stages 1-3 need "
               "--strategy deepspeed, and deepspeed needs a stage 1-3")
        _check(not self.offload_optimizer or self.strategy == "deepspeed", "parallel.offload_optimizer",
               "optimizer offload is a DeepSpeed feature; use --strategy deepspeed")
        _check(self.max_failures >= 0 and self.cpus_per_worker >= 1, "parallel.max_failures",
               "max_failures must be ≥ 0 and cpus_per_worker ≥ 1")


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckpointConfig:
    run_dir: str = ""
    """Run folder, local path or s3://bucket/prefix. Empty = chosen by the platform plan."""
    every_steps: int = 500
    keep: int = 3
    """Checkpoints kept; at least 2 because the newest may be half-written when a run dies."""
    resume: str = "auto"
    """'auto' = newest valid checkpoint if any, 'never', or a checkpoint path."""
    s3_endpoint: str = ""
    """Endpoint override for S3-compatible stores (MinIO, moto); empty = AWS."""

    def __post_init__(self) -> None:
        _check(self.every_steps >= 1, "checkpoint.every_steps", "must be at least 1")
        _check(self.keep >= 2, "checkpoint.keep", f"{self.keep} is too few; keep at least 2 (the newest may be torn)")


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchmarkConfig:
    warmup_steps: int = 3
    steps: int = 10
    store: str = ""
    """Extra place (local folder or s3://) that collects every run's benchmark record."""
    price_per_hour: float = 0.0
    """Price of the platform per hour (USD), for throughput per dollar; 0 = unknown."""

    def __post_init__(self) -> None:
        _check(self.steps >= 1 and self.warmup_steps >= 0, "benchmark.steps", "steps ≥ 1 and warmup_steps ≥ 0")
        _check(self.price_per_hour >= 0, "benchmark.price_per_hour", "must be ≥ 0")


SECTIONS: dict[str, type] = {
    "model": ModelConfig, "data": DataConfig, "train": TrainConfig,
    "parallel": ParallelConfig, "checkpoint": CheckpointConfig, "benchmark": BenchmarkConfig,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    name: str = "default"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)

    def __post_init__(self) -> None:
        _check(self.train.global_batch_size % (self.train.micro_batch_size * self.parallel.num_workers) == 0,
               "train.global_batch_size",
               f"{self.train.global_batch_size} is not divisible by micro_batch_size × num_workers = "
               f"{self.train.micro_batch_size} × {self.parallel.num_workers}")

    @property
    def grad_accum_steps(self) -> int:
        return self.train.global_batch_size // (self.train.micro_batch_size * self.parallel.num_workers)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def hash(self) -> str:
        """Content hash of the whole resolved config (recorded with checkpoints and benchmarks)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def model_hash(self) -> str:
        """Hash of the model section only: a checkpoint loads into any run with the same architecture."""
        defaults = ModelConfig()
        architecture = {k: v for k, v in dataclasses.asdict(self.model).items() if k not in EXECUTION_ONLY_MODEL_KEYS
                        and not (k in LATER_MODEL_OPTIONS and v == getattr(defaults, k))}
        return hashlib.sha256(json.dumps(architecture, sort_keys=True).encode()).hexdigest()[:16]

    def replace(self, **sections: Any) -> "Config":
        """A copy with whole sections replaced, or fields replaced via {'train': {'steps': 5}}."""
        updates = {}
        for name, value in sections.items():
            if isinstance(value, dict):
                value = dataclasses.replace(getattr(self, name), **value)
            updates[name] = value
        return dataclasses.replace(self, **updates)


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str, key: str = "duration") -> float | None:
    """'11h30m' → 41400.0 seconds; '' → None. Plain numbers are seconds."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ConfigError(f"config key '{key}': '{text}' is not a duration; write it like '11h30m', '45m' or '90s'")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)

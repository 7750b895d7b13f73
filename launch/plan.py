"""The plan: how a config runs on a platform — strategy, workers, precision, batch split, memory, time.

`make_plan(spec, config, overrides)` decides (overrides as typed by `config_loader.parse_overrides`); explicit user choices (flags / --set, or non-default
parallel values in the YAML) win, and impossible ones are refused together in one ConfigError.
`plan.config` is the config with the plan's choices applied: what actually runs.

`plan.to_json()` is stable: sorted keys, the fields of `Plan` except `config`, plus `config_name`
and `config_hash` (the README's "Dry run" section lists them).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from graphmer_dist.config import Config, ParallelConfig
from graphmer_dist.config_loader import parse_overrides
from graphmer_dist.errors import ConfigError
from launch import plan_rules as rules
from launch.data_shape import SequenceShape, assumed_shape
from launch.memory_estimate import computed_nodes
from launch.platform_defaults import FILL_MICRO_BATCHES, DefaultChoice, fill_global_batch
from platforms.spec import PlatformSpec

# Parallel keys the plan decides; they bypass config loading (whose cross-checks assume one fixed
# layout) and reach the plan as explicit choices. See launch/cmd_train.py.
PLAN_DECIDED_KEYS = ("parallel.strategy", "parallel.num_workers", "parallel.zero_stage",
                     "parallel.offload_optimizer")


@dataclass(frozen=True, kw_only=True)
class Plan:
    platform: str
    assumed_hardware: bool
    accelerator: str
    device_name: str
    num_devices: int
    num_nodes: int
    strategy: str
    zero_stage: int
    offload_optimizer: bool
    num_workers: int
    cpus_per_worker: int
    dataloader_workers: int
    precision: str
    micro_batch_size: int
    grad_accum_steps: int
    global_batch_size: int
    estimated_memory_bytes: int
    memory: dict[str, int]
    """Breakdown: params, model_states_bytes, activations_bytes, decay_mask_bytes, total_bytes."""
    sequence_shape: dict[str, Any]
    """What the memory was sized for: launch/data_shape.SequenceShape, plus `computed_nodes` (L)."""
    device_memory_bytes: int
    usable_memory_bytes: int
    time_limit_s: float | None
    run_dir: str
    checkpoint_interval_steps: int
    resume_roots: list[str]
    """Read-only roots where an earlier session's run folder may be attached (for --resume auto)."""
    address: str | None
    notes: list[str]
    spec: dict[str, Any]
    config: Config = field(repr=False)

    @property
    def use_gpu(self) -> bool:
        return self.accelerator == "cuda"

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "config"}
        return dict(out, config_name=self.config.name, config_hash=self.config.hash())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def make_plan(spec: PlatformSpec, config: Config, overrides: Mapping[str, Any] | Iterable[str] = (),
              default: DefaultChoice | None = None, shape: SequenceShape | None = None) -> Plan:
    """`default`: the config was chosen for this platform (no --config); see launch/platform_defaults.py.
    `shape`: the training sequences' non-empty nodes (launch/data_shape.find_shape); None = assumed."""
    shape = shape or assumed_shape(config.model)
    overrides = overrides if isinstance(overrides, Mapping) else list(overrides)
    explicit = explicit_choices(config, overrides)
    spec = _cpu_if_requested(spec, config)
    problems: list[str] = []
    if config.train.device == "cuda" and spec.accelerator != "cuda":
        problems.append(f"train.device=cuda: {spec.name} has no GPU here ({spec.device_name}); drop it or use --hardware")
    precision = rules.choose_precision(spec, config.train.precision, problems)
    strategy = explicit.get("parallel.strategy")
    workers = explicit.get("parallel.num_workers") or rules.default_workers(spec, strategy, config.train.global_batch_size)
    _check_workers(spec, config, workers, explicit, problems)
    rules.check_offload_ram(spec, config, explicit.get("parallel.offload_optimizer"), workers, problems)
    run_dir = rules.choose_run_dir(spec, config, config.checkpoint.run_dir)
    for feature in rules.requested_features(spec, run_dir, workers):
        if feature in spec.unsupported:
            problems.append(f"{feature} on {spec.name}: {spec.unsupported[feature]}")
    time_limit = rules.choose_time_limit(spec, config.train.time_limit, problems)
    if problems:
        raise ConfigError(f"the requested run cannot work on {spec.name}: " + "; ".join(
            f"({i}) {p}" for i, p in enumerate(problems, 1)))
    candidates = rules.candidate_layouts(strategy, explicit.get("parallel.zero_stage"),
                                         explicit.get("parallel.offload_optimizer"), workers, spec)
    micro = explicit.get("train.micro_batch_size")
    notes = [default.why] if default else []
    notes.append(_shape_note(config, shape))
    keys = overrides.keys() if isinstance(overrides, Mapping) else [o.partition("=")[0].strip() for o in overrides]
    batch_is_explicit = micro or "train.global_batch_size" in keys
    if default and default.fill_device and not batch_is_explicit:
        config, layout = _fill_device(config, spec, candidates, workers, precision, notes, shape)
    else:
        layout = rules.search_layout(config, spec, candidates, workers, precision, micro, shape)
    if layout is None:
        raise ConfigError(rules.does_not_fit(config, spec, candidates, workers, precision, shape))
    if problem := rules.deepspeed_precision_problem(spec, layout.strategy, precision):
        raise ConfigError(f"the requested run cannot work on {spec.name}: {problem}")
    plan = _assemble(spec, config, explicit, layout, precision, run_dir, time_limit)
    shape_dict = dict(shape.to_dict(), computed_nodes=computed_nodes(config.model, shape))
    return dataclasses.replace(plan, notes=notes + plan.notes, sequence_shape=shape_dict)


def _shape_note(config: Config, shape: SequenceShape) -> str:
    """What the memory estimate assumed about the sequences, and where that came from."""
    if not config.model.unpad:
        return (f"model.unpad=false: every micro-batch computes all N = {config.model.seq_len} nodes per "
                f"sequence; scored rows from {shape.source}")
    L = computed_nodes(config.model, shape)
    if not shape.measured:
        return (f"memory sized for L = {L} computed nodes per sequence, {shape.source}; once the dataset is "
                "built the plan uses its measured counts")
    return (f"memory sized for L = {L} computed nodes per sequence: the longest training sequence has "
            f"{shape.longest} non-empty nodes (mean {shape.mean:.1f}, p99 {shape.p99:.0f}, leaf fill "
            f"{shape.leaf_fill:.1%}; {shape.source})")


def _fill_device(config: Config, spec: PlatformSpec, candidates: list, workers: int, precision: str,
                 notes: list[str], shape: SequenceShape) -> tuple[Config, rules.Layout | None]:
    """The largest micro-batch the memory plan fits, with the global batch grown to cover the workers."""
    for micro in FILL_MICRO_BATCHES:
        batch = fill_global_batch(config.train.global_batch_size, micro, workers)
        filled = config.replace(train={"global_batch_size": batch, "micro_batch_size": micro})
        layout = rules.search_layout(filled, spec, candidates, workers, precision, micro, shape)
        if layout is not None:
            usable = rules.usable_memory(spec, workers)
            notes.append(f"micro-batch {micro}: the largest of {list(FILL_MICRO_BATCHES)} whose estimate "
                         f"({layout.memory.total_bytes / rules.GIB:.1f} GiB) fits the {usable / rules.GIB:.1f} GiB "
                         f"usable per {spec.device_name}; global batch {batch} over {workers} worker(s)")
            return filled, layout
    return config, None


EXPLICIT_KEYS = (*PLAN_DECIDED_KEYS, "train.micro_batch_size", "train.dataloader_workers", "parallel.cpus_per_worker")
"""Overrides the plan treats as the user's choices instead of choosing itself."""


def explicit_choices(config: Config, overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    """The user's own parallel/batch choices: non-default YAML parallel values, then overrides (typed by
    the config loader; strings are parsed by it too)."""
    typed = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    defaults = ParallelConfig()
    out: dict[str, Any] = {f"parallel.{f.name}": getattr(config.parallel, f.name)
                           for f in dataclasses.fields(ParallelConfig)
                           if getattr(config.parallel, f.name) != getattr(defaults, f.name)}
    for key, value in typed.items():
        if key in EXPLICIT_KEYS:
            low = 0 if key == "train.dataloader_workers" else 1
            if isinstance(value, int) and not isinstance(value, bool) and value < low and key != "parallel.zero_stage":
                raise ConfigError(f"config key '{key}': {value} is out of range (≥ {low})")
            out[key] = value
    if out.get("parallel.zero_stage") == 0:
        out.pop("parallel.zero_stage")
    return out


def _check_workers(spec: PlatformSpec, config: Config, workers: int, explicit: dict, problems: list[str]) -> None:
    if workers > spec.max_workers:
        unit = "GPUs" if spec.accelerator == "cuda" else "CPU cores"
        problems.append(f"parallel.num_workers={workers}: more workers than devices — {spec.name} has "
                        f"{spec.max_workers} {unit} ({spec.device_name}); use --num-workers ≤ {spec.max_workers}")
    if config.train.global_batch_size % workers:
        problems.append(f"parallel.num_workers={workers} does not divide train.global_batch_size="
                        f"{config.train.global_batch_size}; pick a worker count that divides it")
    micro = explicit.get("train.micro_batch_size")
    if micro and not config.train.global_batch_size % workers and (config.train.global_batch_size // workers) % micro:
        problems.append(f"train.micro_batch_size={micro} does not divide the {config.train.global_batch_size // workers}"
                        f" sequences per worker (global batch {config.train.global_batch_size} / {workers} workers)")
    strategy = explicit.get("parallel.strategy")
    if strategy == "single" and workers > 1:
        problems.append(f"strategy 'single' runs one process, not {workers}; use --strategy ddp for more workers")
    for key, what in (("parallel.zero_stage", "ZeRO stages"), ("parallel.offload_optimizer", "optimizer offload")):
        if explicit.get(key) and strategy not in (None, "deepspeed"):
            problems.append(f"{key}={explicit[key]} with strategy '{strategy}': {what} are DeepSpeed features; "
                            "use --strategy deepspeed (or drop --strategy and let the plan choose)")


def _cpu_if_requested(spec: PlatformSpec, config: Config) -> PlatformSpec:
    """train.device=cpu on a GPU platform: plan the CPU of that machine instead of its GPUs."""
    if config.train.device != "cpu" or spec.accelerator == "cpu":
        return spec
    return dataclasses.replace(spec, accelerator="cpu", num_devices=1, device_name="cpu", bf16=False, fp16=False,
                               device_memory_bytes=spec.ram_bytes, compute_capability=None)


def _assemble(spec: PlatformSpec, config: Config, explicit: dict, layout: rules.Layout, precision: str,
              run_dir: str, time_limit: float | None) -> Plan:
    workers_per_node = -(-layout.num_workers // spec.num_nodes)
    cpus = explicit.get("parallel.cpus_per_worker") or max(1, spec.cpus // workers_per_node)
    loaders = explicit.get("train.dataloader_workers")
    if loaders is None:  # on a CPU every core does the maths; on a GPU spare cores feed it
        loaders = max(0, min(4, cpus - 1)) if spec.accelerator == "cuda" else 0
    interval = min(config.checkpoint.every_steps, config.train.steps)
    applied = config.replace(
        parallel={"strategy": layout.strategy, "num_workers": layout.num_workers, "zero_stage": layout.zero_stage,
                  "offload_optimizer": layout.offload_optimizer, "cpus_per_worker": cpus},
        train={"precision": precision, "micro_batch_size": layout.micro_batch_size, "device": spec.accelerator,
               "dataloader_workers": loaders, "time_limit": f"{int(time_limit)}" if time_limit else ""},
        checkpoint={"run_dir": run_dir, "every_steps": interval},
    )
    notes = list(spec.notes)
    if layout.num_workers < spec.max_workers and spec.accelerator == "cuda":
        notes.append(f"uses {layout.num_workers} of {spec.num_devices} GPUs: train.global_batch_size="
                     f"{config.train.global_batch_size} must split evenly over the workers; raise it to use all")
    return Plan(
        platform=spec.name, assumed_hardware=spec.assumed_hardware, accelerator=spec.accelerator,
        device_name=spec.device_name, num_devices=spec.num_devices, num_nodes=spec.num_nodes,
        strategy=layout.strategy, zero_stage=layout.zero_stage, offload_optimizer=layout.offload_optimizer,
        num_workers=layout.num_workers, cpus_per_worker=cpus, dataloader_workers=loaders, precision=precision,
        micro_batch_size=layout.micro_batch_size, grad_accum_steps=applied.grad_accum_steps,
        global_batch_size=config.train.global_batch_size, estimated_memory_bytes=layout.memory.total_bytes,
        memory=layout.memory.to_dict(), sequence_shape={}, device_memory_bytes=spec.device_memory_bytes,
        usable_memory_bytes=rules.usable_memory(spec, layout.num_workers), time_limit_s=time_limit,
        run_dir=run_dir, checkpoint_interval_steps=interval,
        resume_roots=[spec.inputs_root] if spec.inputs_root else [], address=spec.address, notes=notes,
        spec=spec.to_dict(), config=applied,
    )

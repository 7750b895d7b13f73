"""The individual decisions of the plan (launch/plan.py), each a small function of spec + config.

Each returns its choice, or appends a reason to `problems` when an explicit user choice is impossible;
the plan raises one ConfigError listing every problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphmer_dist.config import Config, parse_duration
from graphmer_dist.precision_rule import DeviceCaps, PrecisionError
from graphmer_dist.precision_rule import choose_precision as choose_precision_for
from launch.data_shape import SequenceShape
from launch.memory_estimate import MemoryEstimate, estimate, offload_ram_bytes, param_count
from platforms.spec import PlatformSpec

GIB = 1024**3
# CUDA context, allocator fragmentation and cuDNN workspaces take ~10% of a GPU; a CPU worker shares
# its node's RAM with the OS, the dataset's memory maps and Ray.
GPU_USABLE_FRACTION = 0.90
CPU_USABLE_FRACTION = 0.75
# Stop this long before a session limit (capped at 10% of short sessions) to write a last checkpoint.
TIME_LIMIT_MARGIN_S = 1800.0


@dataclass(frozen=True, slots=True)
class Layout:
    strategy: str
    zero_stage: int
    offload_optimizer: bool
    num_workers: int
    micro_batch_size: int
    memory: MemoryEstimate


def choose_precision(spec: PlatformSpec, requested: str, problems: list[str]) -> str:
    """The one precision rule (graphmer_dist/precision_rule.py) applied to the platform's devices."""
    caps = DeviceCaps(spec.accelerator, spec.device_name, spec.compute_capability, spec.bf16, spec.fp16)
    try:
        return choose_precision_for(requested, caps)
    except PrecisionError as error:
        problems.append(str(error))
        return "fp32"


def deepspeed_precision_problem(spec: PlatformSpec, strategy: str, precision: str) -> str:
    """DeepSpeed refuses fp16 on a CPU without native fp16 ("Type fp16 is not supported on your device":
    its CPU accelerator asks oneDNN, which needs avx512_fp16/AMX-FP16), where torch autocast emulates it."""
    if strategy == "deepspeed" and spec.accelerator == "cpu" and precision == "fp16" and not spec.fp16:
        return ("train.precision=fp16 with strategy 'deepspeed' on this CPU: DeepSpeed runs fp16 on a CPU only "
                "with native fp16 (avx512_fp16/AMX-FP16), which this CPU lacks; use --precision fp32 with "
                "DeepSpeed, or fp16 with --strategy ddp/single (torch's GradScaler)")
    return ""


def default_workers(spec: PlatformSpec, strategy: str | None, global_batch: int) -> int:
    """One worker per GPU; on a CPU one process (all cores) unless Ray was asked for, then one per core.
    Capped to a divisor of the global batch so every worker gets the same number of sequences."""
    most = spec.num_devices if spec.accelerator == "cuda" else (1 if strategy in (None, "single") else spec.cpus)
    if strategy == "single":
        most = 1
    return max(w for w in range(1, most + 1) if global_batch % w == 0)


def candidate_layouts(strategy: str | None, zero_stage: int | None, offload: bool | None,
                      workers: int, spec: PlatformSpec) -> list[tuple[str, int, bool]]:
    """(strategy, zero stage, offload) to try in order: cheapest first, ZeRO only when needed."""
    if strategy is not None and strategy != "deepspeed":
        return [(strategy, 0, False)]
    stages = [zero_stage] if zero_stage else [1, 2, 3]
    ds = [("deepspeed", s, bool(offload)) for s in stages]
    if strategy == "deepspeed":
        return ds
    base = [("single" if workers == 1 else "ddp", 0, False)]
    sharded = ds if workers > 1 else []  # one process: ZeRO has nothing to shard over
    offloaded = [("deepspeed", 2, True)] if spec.accelerator == "cuda" and offload is not False else []
    return base + sharded + offloaded


def usable_memory(spec: PlatformSpec, workers: int) -> int:
    if spec.accelerator == "cuda":
        return int(spec.device_memory_bytes * GPU_USABLE_FRACTION)
    per_node = -(-workers // spec.num_nodes)
    return int(spec.ram_bytes * CPU_USABLE_FRACTION) // per_node


def search_layout(config: Config, spec: PlatformSpec, candidates: list[tuple[str, int, bool]], workers: int,
                  precision: str, micro_batch: int | None, shape: SequenceShape | None = None) -> Layout | None:
    """The first candidate that fits at some micro-batch, with its largest fitting micro-batch."""
    per_worker = config.train.global_batch_size // workers
    preferred = micro_batch or config.train.micro_batch_size
    sizes = [micro_batch] if micro_batch else [m for m in range(min(preferred, per_worker), 0, -1)
                                               if per_worker % m == 0]
    budget = usable_memory(spec, workers)
    for strategy, stage, offload in candidates:
        if offload and offload_ram_bytes(param_count(config.model), workers) > spec.ram_bytes * CPU_USABLE_FRACTION:
            continue
        for size in sizes:
            mem = estimate(config.model, micro_batch=size, precision=precision, strategy=strategy,
                           zero_stage=stage, workers=workers, offload_optimizer=offload, shape=shape)
            if mem.total_bytes <= budget:
                return Layout(strategy, stage, offload, workers, size, mem)
    return None


def does_not_fit(config: Config, spec: PlatformSpec, candidates: list[tuple[str, int, bool]], workers: int,
                 precision: str, shape: SequenceShape | None = None) -> str:
    strategy, stage, offload = candidates[-1]
    mem = estimate(config.model, micro_batch=1, precision=precision, strategy=strategy, zero_stage=stage,
                   workers=workers, offload_optimizer=offload, shape=shape)
    tried = ", ".join(f"{s}" + (f" ZeRO-{z}" if z else "") + (" +offload" if o else "") for s, z, o in candidates)
    return (f"the model of config '{config.name}' does not fit: even at micro-batch 1 with {tried} it needs "
            f"~{mem.total_bytes / GIB:.1f} GiB per device (states {mem.model_states_bytes / GIB:.1f}, activations "
            f"{mem.activations_bytes / GIB:.1f}) and {spec.device_name} offers {usable_memory(spec, workers) / GIB:.1f}"
            " GiB usable; use more devices, a smaller model (model.hidden_size / num_layers / num_roots), or "
            "let the plan choose the strategy (drop --strategy/--zero-stage)")


def check_offload_ram(spec: PlatformSpec, config: Config, offload: bool | None, workers: int,
                      problems: list[str]) -> None:
    needed = offload_ram_bytes(param_count(config.model), workers)
    available = int(spec.ram_bytes * CPU_USABLE_FRACTION)
    if offload and needed > available:
        problems.append(f"parallel.offload_optimizer=true: the optimizer states need ~{needed / GIB:.1f} GiB of RAM "
                        f"and {spec.name} offers {available / GIB:.1f} GiB usable; drop the offload or use ZeRO-3")


def choose_time_limit(spec: PlatformSpec, requested: str, problems: list[str]) -> float | None:
    session = spec.time_limit_s
    wanted = parse_duration(requested, "train.time_limit")
    if wanted is not None:
        if session is not None and wanted > session:
            problems.append(f"train.time_limit={requested} is longer than {spec.name}'s session limit of "
                            f"{session / 3600:g} h; the session would end first — use at most {int(session)}s")
        return wanted
    if session is None:
        return None
    return session - min(TIME_LIMIT_MARGIN_S, 0.1 * session)


def choose_run_dir(spec: PlatformSpec, config: Config, requested: str) -> str:
    if requested:
        return requested
    root = spec.persistent_root or spec.scratch_root
    return f"{root}/runs/{config.name}" if root else f"runs/{config.name}"


def requested_features(spec: PlatformSpec, run_dir: str, workers: int) -> list[str]:
    """Platform features this plan would use; the ones in `spec.unsupported` are refused."""
    features = []
    if spec.accelerator == "cuda" and workers > spec.devices_per_node:
        features.append("multi_node")
    if spec.shared_storage_required and not run_dir.startswith("s3://"):
        features.append("local_run_dir")
    return features

"""The benchmark record: one schema-versioned JSON object per run.

A record is plain JSON so any tool can read it. `SCHEMA_VERSION` changes whenever a field is renamed
or its meaning changes; readers refuse versions they do not know rather than guess. Fields:

    schema_version  1
    kind            "train" (a training run) or "bench" (`graphmer-launch bench --suite`)
    run_id          random hex id; created_at ISO-8601 UTC; run_dir (str | None)
    platform        the platform spec as a dict (name, devices, ...; whatever the adapter describes)
    config          the resolved config dict; config_name, config_hash, model_hash
    git_commit      commit of the code that ran (None outside a git checkout)
    strategy, zero_stage, world_size, precision (resolved: fp32|bf16|fp16), device_type, device_name
    throughput      {tokens_per_s, samples_per_s: {median, p10, p90}, tokens_per_s_per_device,
                     flops_per_token, peak_flops_per_device, peak_source, mfu, steady_steps, warmup_steps,
                     nonpad_tokens_per_s, supervised_tokens_per_s: {median, p10, p90} | None (non-empty
                     nodes / labelled positions per second), nonpad_fraction (non-empty share of the
                     flat positions); mfu counts the FLOPs the unpadded model needs when the steps
                     reported them (bench/flops.py), else flops_per_token × tokens/s}
    peak_memory_bytes, memory_kind ("cuda_max_allocated" | "cpu_max_rss")
    time_to_first_step_s, data_wait_fraction, checkpoint_save_s {count, total, mean, max}
    final_metrics   {name: number} (loss, mlm_loss, accuracies, ...); steps; wall_time_s; price_per_hour
"""

from __future__ import annotations

from typing import Any

from graphmer_dist.errors import DataError

SCHEMA_VERSION = 1

_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))

# Top-level key → accepted types. Readers rely on these; extra keys are allowed (forward-compatible).
REQUIRED_FIELDS: dict[str, tuple[type, ...]] = {
    "schema_version": (int,),
    "kind": (str,),
    "run_id": (str,),
    "created_at": (str,),
    "run_dir": (str, type(None)),
    "platform": (dict,),
    "config": (dict,),
    "config_name": (str,),
    "config_hash": (str,),
    "git_commit": (str, type(None)),
    "strategy": (str,),
    "zero_stage": (int,),
    "world_size": (int,),
    "precision": (str,),
    "device_type": (str,),
    "device_name": (str,),
    "throughput": (dict,),
    "peak_memory_bytes": (int, type(None)),
    "time_to_first_step_s": _OPTIONAL_NUMBER,
    "data_wait_fraction": _OPTIONAL_NUMBER,
    "checkpoint_save_s": (dict,),
    "final_metrics": (dict,),
    "steps": (int,),
    "wall_time_s": _NUMBER,
    "price_per_hour": _NUMBER,
}

THROUGHPUT_FIELDS: dict[str, tuple[type, ...]] = {
    "tokens_per_s": (dict,),
    "samples_per_s": (dict,),
    "tokens_per_s_per_device": _OPTIONAL_NUMBER,
    "mfu": _OPTIONAL_NUMBER,
    "steady_steps": (int,),
}

STAT_KEYS = ("median", "p10", "p90")


def record_problems(record: Any) -> list[str]:
    """Everything wrong with `record` as a v1 record (empty = valid)."""
    if not isinstance(record, dict):
        return [f"a record must be a JSON object, not {type(record).__name__}"]
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        return [f"schema_version is {version!r}; this reader understands {SCHEMA_VERSION}"]
    problems = _type_problems(record, REQUIRED_FIELDS, "")
    throughput = record.get("throughput")
    if isinstance(throughput, dict):
        problems += _type_problems(throughput, THROUGHPUT_FIELDS, "throughput.")
        for name in ("tokens_per_s", "samples_per_s"):
            stats = throughput.get(name)
            if isinstance(stats, dict) and not all(isinstance(stats.get(k), _OPTIONAL_NUMBER) for k in STAT_KEYS):
                problems.append(f"throughput.{name} needs numeric {', '.join(STAT_KEYS)}")
    return problems


def _type_problems(obj: dict, fields: dict[str, tuple[type, ...]], prefix: str) -> list[str]:
    problems = []
    for key, types in fields.items():
        if key not in obj:
            problems.append(f"missing key '{prefix}{key}'")
        elif not isinstance(obj[key], types) or (isinstance(obj[key], bool) and bool not in types):
            names = "/".join("null" if t is type(None) else t.__name__ for t in types)
            problems.append(f"'{prefix}{key}' should be {names}, got {type(obj[key]).__name__}")
    return problems


def validate_record(record: Any, where: str) -> dict:
    """Return `record` if valid, else raise DataError naming `where` (file and line)."""
    problems = record_problems(record)
    if problems:
        raise DataError(
            f"benchmark record at {where} is not a valid v{SCHEMA_VERSION} record: {'; '.join(problems)}. "
            "Records are written by graphmer-launch runs; remove or fix this line, or point the report "
            "at other records.")
    return record

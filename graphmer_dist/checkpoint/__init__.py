"""Checkpoints that survive preemption: `<run_dir>/checkpoints/step-NNNNNNN/` with manifest.json written last.

    manager = CheckpointManager(open_storage(run_dir, endpoint), keep=config.checkpoint.keep)
    manager.save(step, {"model.pt": torch_bytes(portable_state_dict(model)),
                        "train_state.pt": torch_bytes({"optimizer": ..., "sampler": sampler.state_dict(),
                                                       "rng": capture_rng_state()}),
                        "tokenizer.json": Path(...), "relations.json": Path(...), "config.json": b"..."},
                 meta={"config_hash": config.hash(), "model_hash": config.model_hash(),
                       "world_size": W, "strategy": config.parallel.strategy})
    found = resolve_resume(config.checkpoint.resume, run_dir, extra_roots, model_hash=config.model_hash(),
                           endpoint=config.checkpoint.s3_endpoint or None)
    if found:  # found.path is a local, verified folder; found.step the step it was saved at
        state = torch_load(found.path / "train_state.pt"); restore_rng_state(state["rng"]) ...

Files are `bytes` or a local `Path` (streamed; better for the 85M model's ~1 GB of optimizer state).
manifest.json: format_version, step, config_hash, model_hash, world_size, strategy, created (UTC ISO),
any extra meta keys, files {name: {"sha256", "size"}}. A checkpoint is valid when its manifest parses and
every listed file has the listed size and sha256; invalid ones are skipped with a logged warning naming them.
"""

from graphmer_dist.checkpoint.manager import CheckpointManager, CheckpointRef
from graphmer_dist.checkpoint.manifest import MANIFEST, step_dirname
from graphmer_dist.checkpoint.resume import ResolvedCheckpoint, check_model_hash, find_run_dirs, resolve_resume
from graphmer_dist.checkpoint.state import (capture_rng_state, portable_state_dict, restore_rng_state,
                                            strip_wrapper_prefixes, torch_bytes, torch_load, unwrap_model)

__all__ = [
    "CheckpointManager", "CheckpointRef", "MANIFEST", "ResolvedCheckpoint", "capture_rng_state",
    "check_model_hash", "find_run_dirs", "portable_state_dict", "resolve_resume", "restore_rng_state",
    "step_dirname", "strip_wrapper_prefixes", "torch_bytes", "torch_load", "unwrap_model",
]

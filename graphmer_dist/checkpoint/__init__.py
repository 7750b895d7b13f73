"""Checkpoints: written, verified and resolved here alone. `<run_dir>/checkpoints/step-NNNNNNN/`, manifest last.

    layout.py     what a checkpoint folder holds; every rank writes its part into a local staging folder,
                  rank 0 the manifest (hashed once, from all ranks' checksums)
    manager.py    publishes a staged folder (rename locally, manifest-last on S3) or one rank's part of it
                  (under Ray), finds, verifies, prunes
    resume.py     which checkpoint a run resumes from or eval loads ('auto' | 'never' | a path)
    safe_load.py  reads `.pt` files with weights_only (nothing pickled runs) and JSON files
    rng.py        RNG states as tensors

manifest.json: format_version, step, config_hash, model_hash, world_size, strategy, created (UTC ISO),
files {name: {"sha256", "size"}}. A checkpoint is valid when its manifest parses and every listed file has
the listed size and sha256; invalid ones are skipped with a logged warning naming them.
"""

from graphmer_dist.checkpoint.manager import CheckpointManager, CheckpointRef, verify_folder
from graphmer_dist.checkpoint.manifest import MANIFEST, step_dirname
from graphmer_dist.checkpoint.resume import (ResolvedCheckpoint, check_model_hash, find_run_dirs, resolve_checkpoint,
                                             resolve_resume)

__all__ = [
    "CheckpointManager", "CheckpointRef", "MANIFEST", "ResolvedCheckpoint", "check_model_hash", "find_run_dirs",
    "resolve_checkpoint", "resolve_resume", "step_dirname", "verify_folder",
]

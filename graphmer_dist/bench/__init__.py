"""Benchmarking the model: FLOP counting, the measured matmul peak, synthetic batches, the timed run."""

from graphmer_dist.bench.flops import training_flops_per_token
from graphmer_dist.bench.runner import run_benchmark

__all__ = ["run_benchmark", "training_flops_per_token"]

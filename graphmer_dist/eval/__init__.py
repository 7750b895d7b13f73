"""Evaluation of a trained checkpoint: link prediction on held-out triples and masked-token accuracy."""

from graphmer_dist.eval.checkpoint import LoadedCheckpoint, load_checkpoint
from graphmer_dist.eval.run import evaluate_checkpoint

__all__ = ["LoadedCheckpoint", "evaluate_checkpoint", "load_checkpoint"]

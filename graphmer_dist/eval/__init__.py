"""Evaluation: whole-tail link prediction on held-out facts with count baselines, and masked-token accuracy."""

from graphmer_dist.eval.checkpoint import LoadedCheckpoint, load_checkpoint
from graphmer_dist.eval.link_prediction import LinkPredictionTask, link_prediction_task
from graphmer_dist.eval.run import evaluate_checkpoint

__all__ = ["LinkPredictionTask", "LoadedCheckpoint", "evaluate_checkpoint", "link_prediction_task", "load_checkpoint"]

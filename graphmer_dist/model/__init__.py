"""The GraphMER-SE model (docs/design.md §3): encoder, heads, pretraining loss."""

from graphmer_dist.model.encoder import GraphMER
from graphmer_dist.model.pretraining import GraphMERForPretraining

__all__ = ["GraphMER", "GraphMERForPretraining"]

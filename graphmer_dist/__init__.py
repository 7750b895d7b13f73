"""graphmer-dist: the GraphMER-SE library (config, code KG, dataset, model, training loop, checkpoints).

This package never imports ray: the same loop runs in one process, under torchrun, or under Ray.
"""

__version__ = "0.1.0"

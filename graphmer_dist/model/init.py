"""GraphMERT initialisation: normal(0, init_std) for linear weights and embeddings, zero biases,
unit LayerNorms, and the row of relation 0 ("no relation") zero in every relation table."""

from __future__ import annotations

from torch import nn


def init_graphmert(model: nn.Module) -> None:
    std = model.config.init_std
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    model.encoder.hgat.reset_parameters(std)

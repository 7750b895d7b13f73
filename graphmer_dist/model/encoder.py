"""The GraphMER encoder: token embedding → H-GAT → post-LN layers with decay attention → final transform."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.attention import DecayAttention, key_bias_for
from graphmer_dist.model.compiled import compiled_layer_forward, worth_compiling
from graphmer_dist.model.distances import decay_mask, hop_distances
from graphmer_dist.model.hgat import HGAT


class EncoderLayer(nn.Module):
    """Post-LN: x = LN(x + Drop(Attn(x))); x = LN(x + Drop(FFN(x)))."""

    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        self.attention = DecayAttention(model)
        self.attention_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        self.ffn_in = nn.Linear(model.hidden_size, model.ffn_size)
        self.ffn_out = nn.Linear(model.ffn_size, model.hidden_size)
        self.ffn_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        self.dropout = nn.Dropout(model.dropout)

    def forward(self, x: torch.Tensor, scaled_decay: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.dropout(self.attention(x, scaled_decay, key_bias)))
        return self.ffn_norm(x + self.dropout(self.ffn_out(F.gelu(self.ffn_in(x)))))


class GraphMER(nn.Module):
    """(B, N) masked ids + graph side info → hidden states y (B, N, d)."""

    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        self.config = model
        self.token_embedding = nn.Embedding(model.vocab_size, model.hidden_size)
        self.hgat = HGAT(model)
        self.decay_p = nn.Parameter(torch.full((model.num_heads,), float(model.decay_p_init)))
        self.register_buffer("hops", hop_distances(model.num_roots, model.leaves_per_root), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(model) for _ in range(model.num_layers))
        self.final_dense = nn.Linear(model.hidden_size, model.hidden_size)
        self.final_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        self.compile_layers = model.attention == "flex"

    def decay(self) -> torch.Tensor:
        """The (H, N, N) decay mask with 1/sqrt(d_h) folded in; once per forward, shared by all layers."""
        return decay_mask(self.hops, self.decay_p, self.config.decay_lambda, 1.0 / math.sqrt(self.config.head_dim))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, leaf_relation: torch.Tensor,
                head_length: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(input_ids)                                              # (B, N, d)
        x = self.hgat(x, leaf_relation, head_length, attention_mask)
        key_bias, has_tokens = key_bias_for(attention_mask)
        scaled_decay = self.decay()
        fast = self.compile_layers and worth_compiling(x, self.config.num_heads, self.layers[0])
        run_layer = compiled_layer_forward() if fast else _eager_layer_forward
        for layer in self.layers:
            x = run_layer(layer, x, scaled_decay, key_bias)
        y = self.final_norm(F.gelu(self.final_dense(x)))
        # A fully padded sequence attended to its own padding (see key_bias_for); its output is 0.
        return y * has_tokens[:, None, None].to(y.dtype)


def _eager_layer_forward(layer: EncoderLayer, x: torch.Tensor, scaled_decay: torch.Tensor,
                         key_bias: torch.Tensor) -> torch.Tensor:
    return layer(x, scaled_decay, key_bias)

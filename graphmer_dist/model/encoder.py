"""The GraphMER encoder: token embedding → H-GAT → post-LN layers with decay attention → final transform.

It computes the nodes of a `NodeLayout` (model/layout.py): with model.unpad (the default) only each
sequence's non-empty nodes, (B, L); otherwise all N flat positions (the padded reference). Both give
the same hidden states at non-empty nodes (tests/test_model_unpad.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.attention import DecayAttention, key_bias_for
from graphmer_dist.model.compiled import compiled_layer_forward, worth_compiling
from graphmer_dist.model.distances import decay_mask, pair_hops
from graphmer_dist.model.hgat import HGAT
from graphmer_dist.model.layout import BUCKET, EAGER_BUCKET, NodeLayout, compact_layout, flat_layout
from graphmer_dist.model.positions import RotaryPosition
from graphmer_dist.tokens import PAD_ID


class EncoderLayer(nn.Module):
    """Post-LN (paper): x = LN(x + Drop(Attn(x))); x = LN(x + Drop(FFN(x))).
    Pre-LN (model.norm=pre): x = x + Drop(Attn(LN(x))); x = x + Drop(FFN(LN(x)))."""

    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        self.attention = DecayAttention(model)
        self.attention_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        self.ffn_in = nn.Linear(model.hidden_size, model.ffn_size)
        self.ffn_out = nn.Linear(model.ffn_size, model.hidden_size)
        self.ffn_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        self.dropout = nn.Dropout(model.dropout)
        self.pre_norm = model.norm == "pre"

    def forward(self, x: torch.Tensor, scaled_decay: torch.Tensor, key_bias: torch.Tensor,
                root: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.attention_norm(x), scaled_decay, key_bias, root, slot))
            return x + self.dropout(self.ffn_out(F.gelu(self.ffn_in(self.ffn_norm(x)))))
        x = self.attention_norm(x + self.dropout(self.attention(x, scaled_decay, key_bias, root, slot)))
        return self.ffn_norm(x + self.dropout(self.ffn_out(F.gelu(self.ffn_in(x)))))


class GraphMER(nn.Module):
    """(B, N) masked ids + graph side info → hidden states: `encode` gives them in the batch's node
    layout, (B, L, d) with the layout; calling the module gives them flat, (B, N, d)."""

    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        self.config = model
        self.token_embedding = nn.Embedding(model.vocab_size, model.hidden_size)
        self.hgat = HGAT(model)
        self.decay_p = nn.Parameter(torch.full((model.num_heads,), float(model.decay_p_init)))
        self.layers = nn.ModuleList(EncoderLayer(model) for _ in range(model.num_layers))
        self.final_dense = nn.Linear(model.hidden_size, model.hidden_size)
        self.final_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        self.compile_layers = model.attention == "flex"
        if model.position == "rotary":
            self.set_query_key_position(RotaryPosition(model.head_dim))
        if model.position == "learned":
            self.root_position = nn.Embedding(model.num_roots, model.hidden_size)
            self.slot_position = nn.Embedding(model.leaves_per_root + 1, model.hidden_size)
        if model.relation_embedding:
            self.relation_embedding = nn.Embedding(model.num_relations, model.hidden_size)
        if model.embedding_norm:
            self.embedding_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)
        if model.norm == "pre":
            self.last_norm = nn.LayerNorm(model.hidden_size, eps=model.layer_norm_eps)

    def layout(self, attention_mask: torch.Tensor) -> NodeLayout:
        """The nodes this model computes for a batch: compact (model.unpad) or all N."""
        R, K = self.config.num_roots, self.config.leaves_per_root
        if not self.config.unpad:
            return flat_layout(attention_mask, R, K)
        return compact_layout(attention_mask, R, K, BUCKET if self.compile_layers else EAGER_BUCKET)

    def decay(self, layout: NodeLayout) -> torch.Tensor:
        """The decay mask of the layout's nodes with 1/sqrt(d_h) folded in: (1, H, N, N) flat, (B, H, L, L)
        compact; once per forward, shared by all layers."""
        return decay_mask(pair_hops(layout.root, layout.slot), self.decay_p, self.config.decay_lambda,
                          1.0 / math.sqrt(self.config.head_dim))

    def attention_terms(self, layout: NodeLayout, key_bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(factor on q·k, additive bias) for every layer. 'multiply' (paper): the factor is D/sqrt(d_h),
        so a far key's logit goes to 0 — weight e^0 whatever its content, never excluded. 'add': the
        factor is 1/sqrt(d_h) and log D joins the bias, so D scales the attention weights (docs/recipe.md)."""
        if self.config.decay_mode == "multiply":
            return self.decay(layout), key_bias
        log_decay = decay_mask(pair_hops(layout.root, layout.slot), self.decay_p, self.config.decay_lambda).log()
        scale = torch.full((1, 1, 1, 1), 1.0 / math.sqrt(self.config.head_dim), device=log_decay.device)
        return scale, key_bias + log_decay

    def _add_node_embeddings(self, x: torch.Tensor, layout: NodeLayout, leaf_relation: torch.Tensor) -> torch.Tensor:
        """Options beyond the paper: learned root-index / leaf-slot embeddings, the block's relation at leaves."""
        if self.config.position == "learned":
            x = x + self.root_position(layout.root) + self.slot_position(layout.slot + 1)
        if self.config.relation_embedding:
            root = layout.root.expand(x.shape[0], -1)
            relation = torch.where(layout.slot >= 0, leaf_relation.gather(1, root), 0)
            x = x + self.relation_embedding(relation)
        if self.config.embedding_norm:
            x = self.embedding_norm(x)
        return x

    def set_query_key_position(self, module: nn.Module | None) -> None:
        """Install a position signal on queries and keys in every layer (see model/attention.py)."""
        for layer in self.layers:
            layer.attention.query_key_position = module

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, leaf_relation: torch.Tensor,
                head_length: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, N, d) at the flat positions; nodes the layout left out (empty ones, in the
        compact layout) are zeros, and so is every node of a fully padded sequence."""
        hidden, layout = self.encode(input_ids, attention_mask, leaf_relation, head_length)
        return layout.to_flat(hidden)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, leaf_relation: torch.Tensor,
               head_length: torch.Tensor) -> tuple[torch.Tensor, NodeLayout]:
        """Hidden states (B, L, d) of the layout's nodes, and the layout (to map flat positions into L)."""
        layout = self.layout(attention_mask)
        ids = input_ids if not layout.is_compact else torch.where(
            layout.valid, input_ids.gather(1, layout.position), PAD_ID)
        # [PAD]'s embedding (what a node left out holds, for H-GAT) comes from the same embedding call:
        # under ZeRO-3 the table is only gathered while the embedding module runs.
        rows = self.token_embedding(torch.cat([ids.reshape(-1), ids.new_full((1,), PAD_ID)]))
        x, pad_embedding = rows[:-1].view(*ids.shape, -1), rows[-1]                       # (B, L, d), (d,)
        x = self.hgat(x, leaf_relation, head_length, layout, pad_embedding)
        x = self._add_node_embeddings(x, layout, leaf_relation)
        key_bias, has_tokens = key_bias_for(layout.valid)
        scaled_decay, key_bias = self.attention_terms(layout, key_bias)
        fast = self.compile_layers and worth_compiling(x, self.config.num_heads, self.layers[0])
        run_layer = compiled_layer_forward() if fast else _eager_layer_forward
        for layer in self.layers:
            x = run_layer(layer, x, scaled_decay, key_bias, layout.root, layout.slot)
        if self.config.norm == "pre":
            x = self.last_norm(x)
        y = self.final_norm(F.gelu(self.final_dense(x)))
        # A fully padded sequence attended to its own padding (see key_bias_for); its output is 0.
        return y * has_tokens[:, None, None].to(y.dtype), layout


def _eager_layer_forward(layer: EncoderLayer, x: torch.Tensor, scaled_decay: torch.Tensor,
                         key_bias: torch.Tensor, root: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
    return layer(x, scaled_decay, key_bias, root, slot)

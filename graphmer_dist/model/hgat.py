"""H-GAT: fuses each injected triple's relation and head tokens into its tail (leaf) embeddings.

For a triple (head tokens h_1..h_m at roots i..i+m-1, relation r, tail tokens t_1..t_K in root i's
leaf block):  e_kj = LeakyReLU_0.01(a_t·W_r t_k + a_h·W_r h_j),  α_kj = softmax_j e_kj,
x_leaf(k) = E[t_k] + W_r Σ_j α_kj h_j  (docs/design.md §3).

Vectorised over all triples of the batch: a triple is addressed by its explicit (batch, root) index,
never by order, and its head and tail nodes are found through the batch's `NodeLayout` (flat or
compact). A head root that the compact layout left out (padding) reads as the [PAD] embedding, as
it would in the flat layout. Two identities keep it cheap: a·(W t) = (Wᵀa)·t, so the scores need only one
d-vector per relation; and W_r Σ α h = Σ α (W_r h), applied to the m ≤ R heads rather than K tails.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.layout import NodeLayout


class HGAT(nn.Module):
    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        d = model.hidden_size
        self.num_roots, self.leaves_per_root = model.num_roots, model.leaves_per_root
        self.max_head = model.num_roots
        self.relation_weight = nn.Parameter(torch.empty(model.num_relations, d, d))   # W_r
        self.relation_attention = nn.Parameter(torch.empty(model.num_relations, 2 * d))  # a_r = [a_t; a_h]
        self.dropout = nn.Dropout(model.hgat_dropout)
        self.reset_parameters(model.init_std)

    def reset_parameters(self, std: float) -> None:
        """normal(0, std), and relation 0 ("no relation") all zero: it must never contribute."""
        with torch.no_grad():
            for table in (self.relation_weight, self.relation_attention):
                nn.init.normal_(table, mean=0.0, std=std)
                table[0].zero_()

    def forward(self, embeddings: torch.Tensor, leaf_relation: torch.Tensor, head_length: torch.Tensor,
                layout: NodeLayout, pad_embedding: torch.Tensor) -> torch.Tensor:
        """embeddings (B, L, d) of the masked ids in `layout` → the same with the leaves of every triple fused.

        leaf_relation, head_length: (B, R); pad_embedding (d,): what a node left out of the layout holds.
        """
        batch_idx, root_idx = torch.nonzero(leaf_relation > 0, as_tuple=True)           # (T,), (T,)
        if batch_idx.numel() == 0:
            # Keep W_r and a_r in the graph (zero gradient): under DDP/ZeRO every rank must produce a
            # gradient for every parameter, or a rank whose batch has no triple skips the all-reduce
            # that the other ranks are waiting in, and the collectives fall out of step.
            return embeddings + 0.0 * (self.relation_weight.sum() + self.relation_attention.sum())
        R, K = self.num_roots, self.leaves_per_root
        relation = leaf_relation[batch_idx, root_idx]                                     # (T,)
        weight = self.dropout(self.relation_weight)[relation]                            # (T, d, d)
        a_tail, a_head = self.dropout(self.relation_attention)[relation].chunk(2, dim=-1)  # (T, d) each

        heads, head_mask = self._heads(embeddings, batch_idx, root_idx, head_length, layout, pad_embedding)
        leaf_pos = R + K * root_idx[:, None] + torch.arange(K, device=root_idx.device)    # (T, K)
        leaf_batch = batch_idx[:, None].expand_as(leaf_pos)
        leaf_index = layout.index(leaf_batch, leaf_pos)                                  # (T, K) in L
        present = leaf_index < layout.length
        leaf_index = leaf_index.clamp(max=layout.length - 1)
        tails = embeddings[leaf_batch, leaf_index]                                       # (T, K, d)

        heads_w = torch.bmm(heads, weight.transpose(1, 2))                               # (T, m, d) = W_r h
        tail_score = torch.bmm(tails, torch.bmm(weight.transpose(1, 2), a_tail[:, :, None]))  # (T, K, 1)
        head_score = torch.bmm(heads_w, a_head[:, :, None]).transpose(1, 2)              # (T, 1, m)
        scores = F.leaky_relu(tail_score + head_score, 0.01)                             # (T, K, m)
        scores = scores.masked_fill(~head_mask[:, None, :], float("-inf"))
        alpha = torch.softmax(scores.float(), dim=-1).to(heads_w.dtype)
        fused = tails + torch.bmm(alpha, heads_w)                                        # (T, K, d)

        valid = present & layout.valid[leaf_batch, leaf_index]                         # (T, K) real tail tokens
        out = embeddings.clone()
        out[leaf_batch[valid], leaf_index[valid]] = fused[valid].to(out.dtype)
        return out

    def _heads(self, embeddings: torch.Tensor, batch_idx: torch.Tensor, root_idx: torch.Tensor,
               head_length: torch.Tensor, layout: NodeLayout,
               pad_embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head token embeddings (T, m, d) at roots root..root+len-1 and their mask; len ≥ 1 always."""
        length = head_length[batch_idx, root_idx].clamp(min=1)
        length = torch.minimum(length, self.num_roots - root_idx)                         # stay inside roots
        m = int(length.max())
        offsets = torch.arange(m, device=root_idx.device)
        mask = offsets[None, :] < length[:, None]                                        # (T, m)
        positions = (root_idx[:, None] + offsets[None, :]).clamp(max=self.num_roots - 1)
        head_batch = batch_idx[:, None].expand_as(positions)
        index = layout.index(head_batch, positions)
        rows = embeddings[head_batch, index.clamp(max=layout.length - 1)]
        missing = (index >= layout.length)[..., None]
        return torch.where(missing, pad_embedding.to(rows.dtype), rows), mask

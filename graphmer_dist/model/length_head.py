"""Length head (config `model.length_head`), an option beyond the paper: P(L | relation, head name) for
the tail of every injected triple, L = 1..K tokens.

Why a model of tail strings needs it: a tail of L tokens is scored under an input with L [MASK]ed leaf
slots, so the token log-probabilities give P(tokens | L), a distribution *per length*. Summing them over
candidates of different lengths silently gives every length the same prior mass, and short candidates
win wherever the relation's tails are long (docs/recipe.md measures the cost: ranking inside the true
length beats the count table, ranking across lengths falls far below it). The tail's probability is
P(L) · P(tokens | L); this head supplies P(L).

It reads only what does not reveal L: the relation and the input embeddings of the head mention's root
tokens. Every hidden state of the encoder has attended to the block's [MASK]s, whose number IS L, so a
head on hidden states would learn to count masks and tell nothing at link-prediction time. (Hidden states
of an input with all K slots [MASK]ed hide L, but a head on them learned the lengths of facts the model
remembers and did worse on unseen ones: docs/recipe.md, "The length ceiling".)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig
from graphmer_dist.tokens import PAD_ID


class LengthHead(nn.Module):
    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        d = model.hidden_size
        self.num_roots, self.leaves_per_root = model.num_roots, model.leaves_per_root
        self.relation = nn.Embedding(model.num_relations, d)
        self.net = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, model.leaves_per_root))

    def forward(self, token_embedding: nn.Embedding, input_ids: torch.Tensor, leaf_relation: torch.Tensor,
                head_length: torch.Tensor, batch: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
        """log P(L = 1..K) (T, K), float32, for the triples at (batch, root): input_ids (B, N) flat,
        leaf_relation and head_length (B, R). The embedding is called as a module (ZeRO-3 gathers its
        table only while it runs)."""
        length = torch.minimum(head_length[batch, root].clamp(min=1), self.num_roots - root)     # (T,)
        offsets = torch.arange(int(length.max()) if length.numel() else 1, device=root.device)
        in_head = offsets[None, :] < length[:, None]                                             # (T, m)
        positions = (root[:, None] + offsets[None, :]).clamp(max=self.num_roots - 1)
        ids = torch.where(in_head, input_ids[batch[:, None], positions], PAD_ID)
        tokens = token_embedding(ids) * in_head[..., None]
        head = tokens.sum(dim=1) / length[:, None].to(tokens.dtype)                              # (T, d)
        features = torch.cat([self.relation(leaf_relation[batch, root]).to(head.dtype), head], dim=-1)
        return torch.log_softmax(self.net(features).float(), dim=-1)

    def loss(self, token_embedding: nn.Embedding, input_ids: torch.Tensor, leaf_relation: torch.Tensor,
             head_length: torch.Tensor) -> torch.Tensor:
        """Mean NLL of every injected tail's true length (its non-[PAD] leaf slots, masked or not)."""
        batch, root = torch.nonzero(leaf_relation > 0, as_tuple=True)
        if batch.numel() == 0:
            # In the graph with zero gradient: under DDP/ZeRO every rank must reduce every parameter.
            return 0.0 * sum(p.sum() for p in self.parameters())
        R, K = self.num_roots, self.leaves_per_root
        slots = R + K * root[:, None] + torch.arange(K, device=root.device)                     # (T, K)
        true_length = (input_ids[batch[:, None], slots] != PAD_ID).sum(dim=1).clamp(min=1)       # (T,)
        log_p = self(token_embedding, input_ids, leaf_relation, head_length, batch, root)
        return F.nll_loss(log_p, true_length - 1)

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
head on those hidden states would learn to count masks and tell nothing at link-prediction time.

With model.length_context it also reads the code around the head: a second part adds to the logits a
reading of the mean hidden state of the block's K slots in a "length probe", an input with all K slots
[MASK]ed whatever the tail's length (link prediction runs one such pass per query; training shows
train.length_probe_prob of its masked tails that way, masking.py, and the context part learns from those
while the name-only part keeps learning from every injected tail). The relation and head name alone give P(L) little
beyond the relation's length counts (log-likelihood −1.52 vs −1.58 on 2,000 val_lp queries of cpu-1h);
knowing L exactly would lift cpu-1h's tail MRR from 0.164 to 0.245 (docs/recipe.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.layout import NodeLayout
from graphmer_dist.tokens import PAD_ID

IGNORE = -100


class LengthHead(nn.Module):
    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        d = model.hidden_size
        self.num_roots, self.leaves_per_root = model.num_roots, model.leaves_per_root
        self.relation = nn.Embedding(model.num_relations, d)
        self.net = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, model.leaves_per_root))
        # With length_context: a correction added to net's logits, read from a probe's hidden states. Kept
        # apart so that net still learns from every injected tail (probes are a fraction of them; one
        # net over both inputs, learning from probes only, stayed at the count table's P(L | r) after
        # 1,500 steps where this one had moved past it, docs/recipe.md).
        self.context = (nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, model.leaves_per_root))
                        if model.length_context else None)

    def probe_hidden(self, hidden: torch.Tensor, layout: NodeLayout, batch: torch.Tensor,
                     root: torch.Tensor) -> torch.Tensor:
        """Mean hidden state (T, d) of the K slots of each block at (batch, root), all [MASK] in a probe."""
        R, K = self.num_roots, self.leaves_per_root
        slots = R + K * root[:, None] + torch.arange(K, device=root.device)                     # (T, K)
        rows = layout.gather(hidden, batch[:, None].expand(-1, K).reshape(-1), slots.reshape(-1))
        return rows.view(len(root), K, -1).mean(dim=1)

    def forward(self, token_embedding: nn.Embedding, input_ids: torch.Tensor, leaf_relation: torch.Tensor,
                head_length: torch.Tensor, batch: torch.Tensor, root: torch.Tensor,
                probe: torch.Tensor | None = None) -> torch.Tensor:
        """log P(L = 1..K) (T, K), float32, for the triples at (batch, root): input_ids (B, N) flat,
        leaf_relation and head_length (B, R); with model.length_context, `probe` (T, d) from
        `probe_hidden` of a probe input. The embedding is called as a module (ZeRO-3 gathers its
        table only while it runs)."""
        length = torch.minimum(head_length[batch, root].clamp(min=1), self.num_roots - root)     # (T,)
        offsets = torch.arange(int(length.max()) if length.numel() else 1, device=root.device)
        in_head = offsets[None, :] < length[:, None]                                             # (T, m)
        positions = (root[:, None] + offsets[None, :]).clamp(max=self.num_roots - 1)
        ids = torch.where(in_head, input_ids[batch[:, None], positions], PAD_ID)
        tokens = token_embedding(ids) * in_head[..., None]
        head = tokens.sum(dim=1) / length[:, None].to(tokens.dtype)                              # (T, d)
        features = torch.cat([self.relation(leaf_relation[batch, root]).to(head.dtype), head], dim=-1)
        logits = self.net(features)
        if probe is not None:
            logits = logits + self.context(probe.to(logits.dtype))
        return torch.log_softmax(logits.float(), dim=-1)

    def loss(self, token_embedding: nn.Embedding, input_ids: torch.Tensor, leaf_relation: torch.Tensor,
             head_length: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean NLL of every injected tail's true length from the relation and head name alone: its
        non-[PAD] leaf slots, masked or not, or its labelled slots where it has labels (a length probe's
        slots are all [MASK], masking.py)."""
        batch, root = torch.nonzero(leaf_relation > 0, as_tuple=True)
        if batch.numel() == 0:
            # In the graph with zero gradient: under DDP/ZeRO every rank must reduce every parameter.
            return 0.0 * sum(p.sum() for p in self.parameters())
        R, K = self.num_roots, self.leaves_per_root
        slots = R + K * root[:, None] + torch.arange(K, device=root.device)                     # (T, K)
        true_length = (input_ids[batch[:, None], slots] != PAD_ID).sum(dim=1)                    # (T,)
        if labels is not None:
            labelled = (labels[batch[:, None], slots] != IGNORE).sum(dim=1)
            true_length = torch.where(labelled > 0, labelled, true_length)
        log_p = self(token_embedding, input_ids, leaf_relation, head_length, batch, root)
        loss = F.nll_loss(log_p, true_length.clamp(min=1) - 1)
        return loss if self.context is None else loss + 0.0 * sum(p.sum() for p in self.context.parameters())

    def probe_loss(self, token_embedding: nn.Embedding, input_ids: torch.Tensor, labels: torch.Tensor,
                   leaf_relation: torch.Tensor, head_length: torch.Tensor, hidden: torch.Tensor,
                   layout: NodeLayout, length_probe: torch.Tensor | None) -> torch.Tensor:
        """Mean NLL of the true length of every length probe (P, 2) (sequence, root): with every slot
        [MASK]ed, the length is the number of labelled slots (masking.py)."""
        if length_probe is None or len(length_probe) == 0:
            return 0.0 * sum(p.sum() for p in self.parameters())                # see `loss`
        batch, root = length_probe.unbind(dim=1)
        R, K = self.num_roots, self.leaves_per_root
        slots = R + K * root[:, None] + torch.arange(K, device=root.device)
        true_length = (labels[batch[:, None], slots] != IGNORE).sum(dim=1).clamp(min=1)
        probe = self.probe_hidden(hidden, layout, batch, root)
        log_p = self(token_embedding, input_ids, leaf_relation, head_length, batch, root, probe)
        return F.nll_loss(log_p, true_length - 1)

"""Copy head (config `model.copy_head`), an option beyond the paper: a masked node may predict a token
by pointing at a code token (root) of its own sequence, as pointer-generator networks do.

The tails of a code KG are identifiers, and an identifier asked about is often written in the very
chunk that mentions its head (a called function, the enclosing test, the module's name). A softmax
over 8,000 tokens has to memorise which identifier goes with which head from counts; pointing lets
attention find it. The head's distribution is a mixture, per masked node i:

    p(v) = g_i · softmax(vocab logits)_v + (1 − g_i) · Σ_{roots j with input id v} a_ij
    a_i = softmax_j(q_i · k_j / √d) over the sequence's roots, g_i = σ(w · h_i + b)

Sources are roots only (a link-prediction query shows no leaf but its masked ones), never the node
itself (a masked root left unchanged by the 80/10/10 rule would copy its own answer) and never a
special token ([MASK], [PAD], [CLS], [SEP]). The head returns log p, so cross-entropy on it is the
mixture's negative log-likelihood and every caller that ranks by logits ranks by log p.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig
from graphmer_dist.model.layout import NodeLayout
from graphmer_dist.tokens import SPECIAL_TOKENS


class CopyHead(nn.Module):
    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        d = model.hidden_size
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.gate = nn.Linear(d, 1)
        self.scale = 1.0 / math.sqrt(d)

    def forward(self, vocab_logits: torch.Tensor, own: torch.Tensor, hidden: torch.Tensor, layout: NodeLayout,
                node_ids: torch.Tensor, batch: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """vocab_logits (M, V) and states own (M, d) of the masked nodes at (batch, index in L); hidden
        (B, L, d) and node_ids (B, L) (the input ids in the layout) → log p (M, V), float32."""
        q = self.query(own)
        keys = self.key(hidden)                                                              # (B, L, d)
        scores = torch.einsum("md,mld->ml", q, keys[batch]).float() * self.scale             # (M, L)
        source_ids = node_ids[batch]                                                         # (M, L)
        nodes = torch.arange(layout.length, device=hidden.device)
        usable = (layout.valid[batch] & (layout.slot.expand_as(layout.valid)[batch] < 0)
                  & (source_ids >= len(SPECIAL_TOKENS)) & (nodes[None, :] != index[:, None]))
        scores = scores.masked_fill(~usable, float("-inf"))
        has_source = usable.any(dim=1, keepdim=True)
        attention = torch.softmax(torch.where(has_source, scores, 0.0), dim=-1) * has_source
        copy = torch.zeros_like(vocab_logits, dtype=torch.float32).scatter_add(1, source_ids, attention)
        gate = self.gate(own).float()                                                        # (M, 1)
        log_g = torch.where(has_source, F.logsigmoid(gate), 0.0)                             # nothing to copy: g = 1
        log_not_g = torch.where(has_source, F.logsigmoid(-gate), float("-inf"))
        vocab = torch.log_softmax(vocab_logits.float(), dim=-1) + log_g
        return torch.logaddexp(vocab, log_not_g + torch.log(copy.clamp(min=1e-30)))

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

Span copy (`model.copy_span`): a tail of several tokens is usually written as several consecutive
roots (`process_request` = ` process` `_request`), and pointing each slot on its own means each slot
must find the same place by itself. With span copy the leaves of one block share one pointer, the
*start* of the span, computed from the block's first slot; slot j copies the root j places after the
start: p_copy,j(v) = Σ_k a_k · [id(root k+j) = v]. Roots are the first nodes of either layout (flat
or compact), in order, so "j places after" is j places along L.
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
        self.span = model.copy_span
        self.num_roots, self.leaves_per_root = model.num_roots, model.leaves_per_root

    def forward(self, vocab_logits: torch.Tensor, own: torch.Tensor, hidden: torch.Tensor, layout: NodeLayout,
                node_ids: torch.Tensor, batch: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """vocab_logits (M, V) and states own (M, d) of the masked nodes at (batch, index in L); hidden
        (B, L, d) and node_ids (B, L) (the input ids in the layout) → log p (M, V), float32. For ranking
        (link prediction); training takes `target_log_prob`, which never builds the (M, V) mixture."""
        attention, source_ids, log_g, log_not_g = self._terms(own, hidden, layout, node_ids, batch, index)
        copy = torch.zeros_like(vocab_logits, dtype=torch.float32).scatter_add(1, source_ids, attention)
        vocab = torch.log_softmax(vocab_logits.float(), dim=-1) + log_g
        return torch.logaddexp(vocab, log_not_g + torch.log(copy.clamp(min=1e-30)))

    def target_log_prob(self, vocab_logits: torch.Tensor, own: torch.Tensor, hidden: torch.Tensor,
                        layout: NodeLayout, node_ids: torch.Tensor, batch: torch.Tensor, index: torch.Tensor,
                        targets: torch.Tensor, predict: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(log p(target) (M,), the mixture's argmax (M,) without gradient, or None without `predict`):
        what training (log p only) and accuracy (the argmax too) need. `targets` (M, T) gives log p (M, T)
        of T tokens per node (the tail-ranking loss's candidates). The
        mixture is normalised, so its cross-entropy is −log p(target): one logsumexp over the vocabulary
        plus the copy mass at the target, instead of elementwise work over (M, V) and its backward. Equal
        to `forward` at the targets (tests/test_copy_head.py)."""
        attention, source_ids, log_g, log_not_g = self._terms(own, hidden, layout, node_ids, batch, index)
        vocab = vocab_logits.float()
        lse = torch.logsumexp(vocab, dim=-1, keepdim=True)                                   # (M, 1)
        wanted = targets if targets.dim() == 2 else targets[:, None]                         # (M, T)
        if wanted.shape[1] == 1:
            # Elementwise, not a matmul: autocast would run a matmul in bf16/fp16, and this mass stays fp32.
            copy_at_target = (attention * (source_ids == wanted)).sum(dim=1, keepdim=True)
        else:   # many targets per node: the copy distribution over the vocabulary, read at the targets
            copy_at_target = torch.zeros_like(vocab).scatter_add(1, source_ids, attention).gather(1, wanted)
        log_p = torch.logaddexp(vocab.gather(1, wanted) - lse + log_g,
                                log_not_g + torch.log(copy_at_target.clamp(min=1e-30)))
        log_p = log_p if targets.dim() == 2 else log_p[:, 0]
        if not predict:
            return log_p, None
        with torch.no_grad():
            # p(v) = g·softmax(v) + (1 − g)·copy(v), and copy(v) > 0 only at the sources: the argmax is the
            # vocabulary's argmax or one of the sources.
            candidates = torch.cat([vocab.argmax(dim=-1, keepdim=True), source_ids], dim=1)   # (M, 1 + L)
            mass = torch.zeros_like(vocab).scatter_add_(1, source_ids, attention).gather(1, candidates)
            score = torch.logaddexp(vocab.gather(1, candidates) - lse + log_g,
                                    log_not_g + torch.log(mass.clamp(min=1e-30)))
            predicted = candidates.gather(1, score.argmax(dim=1, keepdim=True))[:, 0]
        return log_p, predicted

    def _terms(self, own: torch.Tensor, hidden: torch.Tensor, layout: NodeLayout, node_ids: torch.Tensor,
               batch: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(attention over the sources (M, L) fp32, their token ids (M, L), log g (M, 1), log(1 − g) (M, 1))."""
        nodes = torch.arange(layout.length, device=hidden.device)
        is_root = layout.valid & (layout.slot.expand_as(layout.valid) < 0)                  # (B, L)
        shift, pointer = self._pointer(own, hidden, layout, batch, index)                    # (M,), (M, d)
        keys = self.key(hidden)                                                              # (B, L, d)
        scores = _row_scores(self.query(pointer), keys, batch).float() * self.scale         # (M, L)
        source = (nodes[None, :] + shift[:, None]).clamp(max=layout.length - 1)             # (M, L): k + j
        source_ids = node_ids[batch[:, None], source]                                        # (M, L)
        usable = (is_root[batch] & is_root[batch[:, None], source] & (nodes[None, :] + shift[:, None] < layout.length)
                  & (node_ids[batch] >= len(SPECIAL_TOKENS)) & (source_ids >= len(SPECIAL_TOKENS))
                  & (nodes[None, :] != index[:, None]))
        scores = scores.masked_fill(~usable, float("-inf"))
        has_source = usable.any(dim=1, keepdim=True)
        attention = torch.softmax(torch.where(has_source, scores, 0.0), dim=-1) * has_source
        gate = self.gate(own).float()                                                        # (M, 1)
        log_g = torch.where(has_source, F.logsigmoid(gate), 0.0)                             # nothing to copy: g = 1
        log_not_g = torch.where(has_source, F.logsigmoid(-gate), float("-inf"))
        return attention, source_ids, log_g, log_not_g

    def _pointer(self, own: torch.Tensor, hidden: torch.Tensor, layout: NodeLayout, batch: torch.Tensor,
                 index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per masked node: how many roots past the pointed-at one it copies from, and the state that
        points. Without span copy: 0 and its own state. With it, a leaf in slot j: j, and its block's
        first slot's state (every slot of a block points at one span start)."""
        if not self.span:
            return torch.zeros_like(index), own
        slot = layout.slot.expand_as(layout.valid)[batch, index.clamp(max=layout.length - 1)]   # (M,)
        root = layout.root.expand_as(layout.valid)[batch, index.clamp(max=layout.length - 1)]
        is_leaf = slot >= 0
        first = layout.index(batch, self.num_roots + self.leaves_per_root * root)               # slot 0 of the block
        first = torch.where(is_leaf, first, index).clamp(max=layout.length - 1)
        return torch.where(is_leaf, slot, 0), hidden[batch, first].to(own.dtype)


def _row_scores(q: torch.Tensor, keys: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """q (M, d) · keys[batch[m]] (L, d) → (M, L) as one batched matmul over the sequences: each row is
    placed at its rank within its sequence, (B, most rows, d), instead of gathering an (M, L, d) copy of
    the keys (whose backward is a scatter-add of that size)."""
    counts = torch.bincount(batch, minlength=keys.shape[0])
    starts = torch.cumsum(counts, 0) - counts
    order = torch.argsort(batch, stable=True)
    rank = torch.empty_like(batch)
    rank[order] = torch.arange(len(batch), device=batch.device) - starts[batch[order]]
    rows = int(counts.max()) if len(batch) else 0
    placed = q.new_zeros(keys.shape[0], rows, q.shape[-1]).index_put((batch, rank), q)   # (B, rows, d)
    return torch.bmm(placed, keys.transpose(1, 2).to(placed.dtype))[batch, rank]         # (M, L)

"""`GraphMERForPretraining`: encoder + heads + the loss and accuracy counts (docs/interfaces.md)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.model.copy_head import CopyHead
from graphmer_dist.model.encoder import GraphMER
from graphmer_dist.model.heads import MaskedTokenHead, SpanBoundaryHead
from graphmer_dist.model.init import init_graphmert
from graphmer_dist.model.length_head import LengthHead
from graphmer_dist.model.layout import NodeLayout
from graphmer_dist.model.zero3 import zero3_partitioned
from graphmer_dist.tokens import PAD_ID

IGNORE = -100


class GraphMERForPretraining(nn.Module):
    def __init__(self, model: ModelConfig, train: TrainConfig | None = None) -> None:
        super().__init__()
        self.config, self.train_config = model, train or TrainConfig()
        self.encoder = GraphMER(model)
        self.mlm_head = MaskedTokenHead(model, self.encoder.token_embedding)
        self.sbo_head = SpanBoundaryHead(model)
        self.copy_head = CopyHead(model) if model.copy_head else None
        self.length_head = LengthHead(model) if model.length_head else None
        init_graphmert(self)

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Tied-decoder logits (..., V) for hidden states (..., d)."""
        return self.mlm_head(hidden)

    def token_logits(self, hidden: torch.Tensor, layout: NodeLayout, input_ids: torch.Tensor,
                     batch: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """Token scores (M, V), float32, at flat `position`s of sequences `batch`: the tied decoder's
        logits, or with model.copy_head the log-probabilities of its mixture (model/copy_head.py).
        Training and link prediction both score tokens through here."""
        own = layout.gather(hidden, batch, position)                                    # (M, d)
        logits = self.mlm_logits(own).float()
        if self.copy_head is None:
            return logits
        return self.copy_head(logits, own, hidden, layout, layout.take(input_ids), batch, layout.index(batch, position))

    def tail_length_logp(self, input_ids: torch.Tensor, leaf_relation: torch.Tensor, head_length: torch.Tensor,
                         batch: torch.Tensor, root: torch.Tensor) -> torch.Tensor | None:
        """log P(tail length = 1..K) (T, K) of the triples at (batch, root), or None without a length head
        (model/length_head.py). Link prediction adds it to a candidate's token log-probabilities."""
        if self.length_head is None:
            return None
        return self.length_head(self.encoder.token_embedding, input_ids, leaf_relation, head_length, batch, root)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor,
                leaf_relation: torch.Tensor, head_length: torch.Tensor, sbo_index: torch.Tensor,
                sbo_labels: torch.Tensor, count_accuracy: bool = True, tail_block: torch.Tensor | None = None,
                tail_negatives: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The losses, and (count_accuracy) the accuracy counts. A training step reads only the loss, so
        it passes count_accuracy=False: the counts need an argmax over the (M, V) scores (~3% of a cpu-1h
        step in the profiler). With `tail_block`/`tail_negatives` (masking.py, train.tail_negatives > 0)
        the tail-ranking loss is added, weighted by train.tail_loss_weight."""
        hidden, layout = self.encoder.encode(input_ids, attention_mask, leaf_relation, head_length)  # (B, L, d)
        batch_idx, pos_idx = torch.nonzero(labels != IGNORE, as_tuple=True)            # masked positions only
        targets = labels[batch_idx, pos_idx]
        if tail_block is None:
            scored, tail_rows = targets, None                                             # (M,)
        else:   # one pass scores the true tokens and the tail-ranking loss's candidates (M, 1 + C)
            scored, tail_rows = self._tail_candidates(labels, batch_idx, pos_idx, targets, tail_block,
                                                      tail_negatives)
        log_p, predicted = self._token_log_prob(hidden, layout, input_ids, batch_idx, pos_idx, scored,
                                                count_accuracy)                           # (M,)|(M, 1+C), (M,)|None
        token_loss = -(log_p if tail_rows is None else log_p[:, 0])
        is_root = pos_idx < self.config.num_roots

        # With train.sbo_weight 0 the SBO loss is still reported but computed without a graph: its
        # backward (span head and its d×V projection, ~7% of a cpu-1h step) would only multiply by 0.
        # Its parameters still get a gradient, zeros, so DDP's all-reduce sees every parameter — except
        # under ZeRO-3, whose parameters only exist inside their module's forward: there the graph stays.
        sbo_graph = self.train_config.sbo_weight != 0 or zero3_partitioned(self.sbo_head)
        with torch.set_grad_enabled(torch.is_grad_enabled() and sbo_graph):
            sbo_logits = self.sbo_head(hidden, _sbo_in_layout(sbo_index, layout)).float()
            sbo_loss = _mean(F.cross_entropy(sbo_logits, sbo_labels, reduction="none"))
        mlm_loss = _mean(token_loss)
        loss = self._objective(token_loss, is_root, mlm_loss)
        loss = loss + (self.train_config.sbo_weight * sbo_loss if sbo_graph else _zero_gradient(self.sbo_head))
        out = {"mlm_loss": mlm_loss, "sbo_loss": sbo_loss}
        if self.length_head is not None:
            out["length_loss"] = self.length_head.loss(self.encoder.token_embedding, input_ids, leaf_relation,
                                                       head_length)
            loss = loss + out["length_loss"]
        if tail_block is not None:
            out["tail_loss"] = _tail_ranking_loss(log_p, tail_rows, tail_negatives)
            loss = loss + self.train_config.tail_loss_weight * out["tail_loss"]
        out["loss"] = loss
        if predicted is not None:
            out.update(_accuracy_counts(predicted, targets, is_root))
        return out

    def _token_log_prob(self, hidden: torch.Tensor, layout: NodeLayout, input_ids: torch.Tensor,
                        batch: torch.Tensor, position: torch.Tensor, targets: torch.Tensor,
                        predict: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(log p of the targets (M,) or (M, T), predicted token (M,) or None without `predict`) under the
        same scores as `token_logits`, computed at the targets only when the copy head is on
        (copy_head.target_log_prob)."""
        own = layout.gather(hidden, batch, position)                                    # (M, d)
        logits = self.mlm_logits(own).float()
        if self.copy_head is None:
            predicted = logits.detach().argmax(dim=-1) if predict else None
            if targets.dim() == 1:
                return -F.cross_entropy(logits, targets, reduction="none"), predicted
            return logits.gather(1, targets) - torch.logsumexp(logits, dim=-1, keepdim=True), predicted
        return self.copy_head.target_log_prob(logits, own, hidden, layout, layout.take(input_ids), batch,
                                              layout.index(batch, position), targets, predict)

    def _tail_candidates(self, labels: torch.Tensor, batch: torch.Tensor, position: torch.Tensor,
                         targets: torch.Tensor, tail_block: torch.Tensor, tail_negatives: torch.Tensor
                         ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The tokens to score at the M masked nodes, (M, 1 + C): column 0 the true token; at a masked
        tail's slot j, columns 1.. the C negatives' j-th tokens (elsewhere copies of the true token,
        unused). Also (block, row): which masked tail (T) each tail-slot row of M belongs to."""
        R, K = self.config.num_roots, self.config.leaves_per_root
        sequence, root = tail_block.unbind(dim=1)                                         # (T,)
        slots = R + K * root[:, None] + torch.arange(K, device=root.device)               # (T, K)
        row_of = torch.full_like(labels, -1)
        row_of[batch, position] = torch.arange(len(batch), device=batch.device)
        rows = row_of[sequence[:, None], slots]                                           # (T, K); −1: [PAD] slot
        block, slot = torch.nonzero(rows >= 0, as_tuple=True)
        candidates = targets[:, None].repeat(1, 1 + tail_negatives.shape[1])
        candidates[rows[block, slot], 1:] = tail_negatives[block, :, slot]
        return candidates, (block, rows[block, slot])

    def _objective(self, token_loss: torch.Tensor, is_root: torch.Tensor, mlm_loss: torch.Tensor) -> torch.Tensor:
        """'combined': one CE over masked roots and leaves (paper). 'separate': roots and leaves are
        averaged apart and the leaf term weighted by train.leaf_loss_weight (dense injection)."""
        if self.train_config.loss == "combined":
            return mlm_loss
        return _mean(token_loss[is_root]) + self.train_config.leaf_loss_weight * _mean(token_loss[~is_root])


def _sbo_in_layout(sbo_index: torch.Tensor, layout: NodeLayout) -> torch.Tensor:
    """SBO rows (batch, left, right, offset) with the flat boundary positions mapped into the layout.
    Boundaries are always non-empty roots (spans never touch [CLS]/[SEP]/[PAD], masking.py)."""
    batch, left, right, offset = sbo_index.unbind(dim=1)
    return torch.stack([batch, layout.index(batch, left), layout.index(batch, right), offset], dim=1)


def _tail_ranking_loss(log_p: torch.Tensor, tail_rows: tuple[torch.Tensor, torch.Tensor],
                       tail_negatives: torch.Tensor) -> torch.Tensor:
    """Mean over masked tails of −log softmax(score)[true tail] over (true tail, its C negatives), a
    tail's score being its tokens' summed log-probabilities at the block's slots under the same input:
    what link prediction ranks within one length (eval/link_prediction.py). The token loss only raises
    the true tokens against the whole vocabulary, one slot at a time; this one lowers the relation's
    other tails of that length, the plausible confusions. log_p (M, 1 + C) from `_tail_candidates`'
    columns; a negative row of [PAD] (a draw of the true tail) is no candidate."""
    if len(tail_negatives) == 0:
        return log_p.new_zeros(())
    block, row = tail_rows
    scores = log_p.new_zeros(len(tail_negatives), log_p.shape[1]).index_add(0, block, log_p[row])   # (T, 1 + C)
    drawn = torch.cat([torch.ones_like(tail_negatives[:, :1, 0], dtype=torch.bool),
                       tail_negatives[:, :, 0] != PAD_ID], dim=1)
    scores = scores.masked_fill(~drawn, float("-inf"))
    return F.cross_entropy(scores, torch.zeros(len(scores), dtype=torch.long, device=scores.device))


def _zero_gradient(module: nn.Module) -> torch.Tensor:
    """A 0 that depends on every parameter of `module`: adding it gives each a zero gradient."""
    return sum(p.sum() for p in module.parameters()) * 0.0


def _mean(values: torch.Tensor) -> torch.Tensor:
    """Mean that is 0 (still in the graph) when nothing was masked, instead of NaN."""
    return values.sum() / max(values.numel(), 1)


def _accuracy_counts(predicted: torch.Tensor, targets: torch.Tensor, is_root: torch.Tensor) -> dict[str, torch.Tensor]:
    correct = predicted == targets
    return {"root_correct": (correct & is_root).sum(), "root_count": is_root.sum(),
            "leaf_correct": (correct & ~is_root).sum(), "leaf_count": (~is_root).sum()}

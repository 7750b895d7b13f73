"""The context length head (model.length_context) and its length probes.

What must hold: a probe input says nothing about the tail's length (all K slots [MASK]), the masks and
labels of everything else are those of a run without probes, the head learns the length from the probe's
hidden states (so from the code), and link prediction reads P(L) from each query's K-slot pass only.
"""

import dataclasses

import numpy as np
import pytest
import torch

from graphmer_dist.bench.synthetic import synthetic_arrays
from graphmer_dist.config import ModelConfig, TrainConfig
from graphmer_dist.errors import ConfigError
from graphmer_dist.masking import IGNORE, MaskingCollator, VocabFlags
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.tokens import MASK_ID, PAD_ID

MODEL = ModelConfig(vocab_size=400, hidden_size=32, num_layers=1, num_heads=2, ffn_size=64, num_roots=16,
                    leaves_per_root=4, max_span_length=3, dropout=0.0, hgat_dropout=0.0, attention="eager",
                    length_head=True, length_context=True)
TRAIN = TrainConfig(leaf_mask_prob=1.0, leaf_corruption="mask", length_probe_prob=0.5)
R, K = MODEL.num_roots, MODEL.leaves_per_root


def collate(train: TrainConfig, model: ModelConfig = MODEL, probes: bool = True, num: int = 32):
    rng = np.random.default_rng(0)
    flags = VocabFlags(begins_with_space=rng.random(model.vocab_size) < 0.4,
                       ends_with_non_identifier=rng.random(model.vocab_size) < 0.2)
    arrays = synthetic_arrays(model, num, rng)
    collator = MaskingCollator(model, train, flags, length_probes=probes)
    return arrays, collator(arrays, np.arange(num, dtype=np.int64))


def test_a_probe_masks_every_slot_of_its_block_and_changes_no_label_or_other_mask():
    arrays, batch = collate(TRAIN)
    _, plain = collate(TRAIN, probes=False)           # eval's accuracy collator: no probes
    assert "length_probe" not in plain
    probes = batch["length_probe"]
    assert probes.shape[1] == 2 and len(probes) > 0
    assert torch.equal(batch["labels"], plain["labels"])
    blocks = batch["input_ids"][:, R:].view(len(batch["input_ids"]), R, K)
    plain_blocks = plain["input_ids"][:, R:].view_as(blocks)
    is_probe = torch.zeros(blocks.shape[:2], dtype=torch.bool)
    is_probe[probes[:, 0], probes[:, 1]] = True
    assert (blocks[is_probe] == MASK_ID).all()                       # K [MASK]s whatever the length
    assert torch.equal(blocks[~is_probe], plain_blocks[~is_probe])   # every other block as without probes
    assert torch.equal(batch["input_ids"][:, :R], plain["input_ids"][:, :R])
    assert torch.equal(batch["attention_mask"], batch["input_ids"] != PAD_ID)
    # Probes are masked tails, about length_probe_prob of them; their labels are the tail's tokens only.
    tails = torch.from_numpy(np.asarray(arrays["input_ids"]))[:, R:].view_as(blocks)
    lengths = (tails[is_probe] != PAD_ID).sum(dim=1)
    assert (lengths < K).any(), "the fixture should hold tails shorter than K"
    labels = batch["labels"][:, R:].view_as(blocks)[is_probe]
    assert torch.equal((labels != IGNORE).sum(dim=1), lengths)
    masked_tails = int((plain_blocks == MASK_ID).any(dim=2).sum())
    assert 0.3 < len(probes) / masked_tails < 0.7


def test_probe_share_zero_and_models_without_the_context_head_show_no_probes():
    _, none = collate(dataclasses.replace(TRAIN, length_probe_prob=0.0))
    assert none["length_probe"].shape == (0, 2)
    _, off = collate(TRAIN, model=dataclasses.replace(MODEL, length_context=False))
    assert "length_probe" not in off


def test_context_head_learns_the_probes_length_from_the_hidden_states():
    """The length loss is the name-only part's NLL over every injected tail (a probe counted by its labels,
    so the same as without probes) plus the NLL of each probe's labelled length under `tail_length_logp`
    read from the probe input's hidden states; that gradient reaches the encoder (it reads the code)."""
    torch.manual_seed(0)
    _, batch = collate(TRAIN)
    _, plain = collate(TRAIN, probes=False)
    model = GraphMERForPretraining(MODEL, TRAIN).eval()
    out = model(**batch)
    head, embedding = model.length_head, model.encoder.token_embedding
    keys = ("input_ids", "leaf_relation", "head_length", "labels")
    with torch.no_grad():
        name_only = head.loss(embedding, *(batch[k] for k in keys))
        assert name_only.item() == pytest.approx(head.loss(embedding, *(plain[k] for k in keys)).item(), rel=1e-6)
        hidden, layout = model.encoder.encode(batch["input_ids"], batch["attention_mask"], batch["leaf_relation"],
                                              batch["head_length"])
        sequence, root = batch["length_probe"].unbind(dim=1)
        log_p = model.tail_length_logp(batch["input_ids"], batch["leaf_relation"], batch["head_length"],
                                       sequence, root, hidden, layout)
        slots = R + K * root[:, None] + torch.arange(K)
        length = (batch["labels"][sequence[:, None], slots] != IGNORE).sum(dim=1)
    expected = name_only - log_p[torch.arange(len(length)), length - 1].mean()
    assert out["length_loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["length_loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.layers.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.context.parameters())
    # A different code token around the heads changes what the head says (it reads the context).
    changed = batch["input_ids"].clone()
    changed[:, 1] = 7 if int(batch["input_ids"][0, 1]) != 7 else 8
    with torch.no_grad():
        hidden2, layout2 = model.encoder.encode(changed, changed != PAD_ID, batch["leaf_relation"],
                                                batch["head_length"])
        other = model.tail_length_logp(changed, batch["leaf_relation"], batch["head_length"], sequence, root,
                                       hidden2, layout2)
    assert not torch.allclose(other, log_p)


def test_a_batch_without_probes_keeps_the_context_part_in_the_graph():
    """Under DDP/ZeRO every rank reduces every parameter: a batch without probes gives the context part
    zero gradients, not none, and the loss is the name-only part's."""
    _, batch = collate(dataclasses.replace(TRAIN, length_probe_prob=0.0))
    model = GraphMERForPretraining(MODEL, TRAIN)
    out = model(**batch)
    name_only = model.length_head.loss(model.encoder.token_embedding, batch["input_ids"], batch["leaf_relation"],
                                       batch["head_length"], batch["labels"])
    assert out["length_loss"].item() == pytest.approx(name_only.item(), rel=1e-6)
    out["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().max() == 0 for p in model.length_head.context.parameters())


def test_context_mode_needs_the_length_head_and_a_probe_share_in_range():
    with pytest.raises(ConfigError, match="model.length_context"):
        dataclasses.replace(MODEL, length_head=False)
    with pytest.raises(ConfigError, match="train.length_probe_prob"):
        TrainConfig(length_probe_prob=1.5)

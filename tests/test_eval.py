"""`graphmer-launch eval` on a hand-built dataset whose answers are known.

The fixture is a tiny code corpus where every head function has known callees/return types, built
with the real tokenizer trainer, leafy-chain builder and shard writer into a dataset folder. A model
trained to memorise exactly those link-prediction queries must score Hits@1 = 1; freshly initialised
weights must not; weights that do not fit their config.json must be refused.
"""

import json
import re
import shutil
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from graphmer_dist.config_loader import load_config
from graphmer_dist.data import open_dataset
from graphmer_dist.data.chains import Injection, TripleIndex, build_file_sequences
from graphmer_dist.data.shards import ShardWriter
from graphmer_dist.data.tokenizer import encode_tails, train_tokenizer
from graphmer_dist.errors import CheckpointError
from graphmer_dist.eval import evaluate_checkpoint
from graphmer_dist.eval.filters import TailFilter, read_triples
from graphmer_dist.eval.queries import query_batches
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.relations import RELATION_ID, RELATIONS
from launch.cli import main

HEADS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
TAILS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"]
# (head, relation, tail): alpha calls two functions, so its second callee is filtered out of the first's ranking.
KG = [("alpha", "calls", "apple"), ("alpha", "calls", "banana"), ("bravo", "calls", "cherry"),
      ("charlie", "returns", "grape"), ("delta", "calls", "lemon"), ("delta", "raises", "mango"),
      ("echo", "returns", "peach"), ("foxtrot", "calls", "plum")]


@dataclass
class Mention:
    entity: str
    start: int
    end: int


def corpus_files() -> list[str]:
    files = []
    for i, head in enumerate(HEADS):
        callees = [t for h, _, t in KG if h == head]
        body = "".join(f"    x = {t}()\n" for t in callees)
        other = HEADS[(i + 1) % len(HEADS)]
        files.append(f"def {head}():\n{body}    return {other}()\n\n\ndef use_{head}():\n    {head}()\n    {head}()\n")
    return files


def build_dataset_folder(folder, config) -> None:
    model = config.model
    texts = corpus_files()
    tokenizer = train_tokenizer(iter(texts * 20), model.vocab_size, 1, len(texts) * 20)
    tails = dict(zip(TAILS, encode_tails(tokenizer, TAILS)))
    options = {}
    for head, relation, tail in KG:
        options.setdefault(f"m.{head}", []).append(Injection(RELATION_ID[relation], tails[tail]))
    index = TripleIndex(options)
    writer = ShardWriter(folder, "test", shard_size=8)
    for text in texts:
        encoding = tokenizer.encode(text, add_special_tokens=False)
        mentions = [Mention(f"m.{m.group()}", m.start(), m.end())
                    for m in re.finditer(r"\b(" + "|".join(HEADS) + r")\b", text)]
        writer.add(build_file_sequences(np.asarray(encoding.ids, dtype=np.int32),
                                        np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2),
                                        mentions, index, model.num_roots, model.leaves_per_root))
    shards = {"train": [], "val": [], "test": writer.close()}
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "relations.json").write_text(json.dumps({"relations": list(RELATIONS), "ids": RELATION_ID}))
    (folder / "triples.tsv").write_text("".join(f"m.{h}\t{r}\tm.{t}\ttest\n" for h, r, t in KG))
    # Format 1: a dataset from before the query splits (no test_lp), which eval must still read.
    (folder / "manifest.json").write_text(json.dumps({
        "format_version": 1, "shards": shards, "vocab_size": model.vocab_size,
        "num_roots": model.num_roots, "leaves_per_root": model.leaves_per_root,
        "num_sequences": {"train": 0, "val": 0, "test": writer.num_sequences}}))


def save_checkpoint(folder, config, model, dataset_dir) -> str:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config.to_json())
    torch.save(model.state_dict(), folder / "model.pt")
    shutil.copyfile(dataset_dir / "tokenizer.json", folder / "tokenizer.json")
    (folder / "manifest.json").write_text(json.dumps({"step": 1, "files": {}}))
    return str(folder)


def memorise(model, dataset, max_steps: int = 500) -> int:
    """Fit the MLM head (not the tied embedding) to the link-prediction queries themselves, on the
    encoder's hidden states at the [MASK] slots, until it replays every answer. Training the head
    alone keeps the fixture cheap on a loaded CPU; the encoder's states already tell the queries
    apart. Returns the steps taken."""
    batches = [b for i in range(len(dataset.shard_sizes("test")))
               for b in query_batches(dataset.load_shard("test", i), model.config, batch_size=1024)]
    model.eval()
    with torch.no_grad():
        hidden = torch.cat([model.encoder(**b.inputs)[torch.arange(len(b.position)), b.position] for b in batches])
    target = torch.from_numpy(np.concatenate([b.tail[:, 0] for b in batches]))
    head = model.mlm_head
    optimizer = torch.optim.Adam([*head.dense.parameters(), *head.norm.parameters(), head.bias], lr=3e-2)
    for step in range(max_steps):
        logits = model.mlm_logits(hidden)
        if (logits.argmax(dim=-1) == target).all():  # checked before updating: the saved weights pass
            return step
        optimizer.zero_grad()
        F.cross_entropy(logits, target).backward()
        optimizer.step()
    return max_steps


@pytest.fixture(scope="module")
def kg_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    config = load_config("tiny", ["model.dropout=0", "model.hgat_dropout=0", "data.shard_size=8"])
    dataset_dir = root / "dataset"
    dataset_dir.mkdir()
    build_dataset_folder(dataset_dir, config)
    dataset = open_dataset(dataset_dir)
    torch.manual_seed(0)
    random_model = GraphMERForPretraining(config.model, config.train)
    trained = GraphMERForPretraining(config.model, config.train)
    trained.load_state_dict(random_model.state_dict())
    assert len(dataset.shard_sizes("test")) == 2, "the fixture should span shards"
    assert memorise(trained, dataset) < 500, "the fixture KG should be memorisable"
    return {
        "config": config, "dataset": dataset_dir, "root": root,
        "trained": save_checkpoint(root / "trained" / "checkpoints" / "step-0000150", config, trained, dataset_dir),
        "random": save_checkpoint(root / "random", config, random_model, dataset_dir),
    }


def test_memorised_kg_scores_hits_at_1_and_random_weights_do_not(kg_world):
    trained = evaluate_checkpoint(kg_world["trained"], str(kg_world["dataset"]))
    random = evaluate_checkpoint(kg_world["random"], str(kg_world["dataset"]))
    assert trained["num_queries"] == random["num_queries"] >= 12   # each head is mentioned 3×
    assert trained["hits_at_1"] == 1.0 and trained["mrr"] == 1.0 and trained["filtered_hits_at_1"] == 1.0
    assert random["hits_at_1"] < 0.5 and random["mrr"] < 0.5
    assert set(trained["per_relation"]) == {"calls", "returns", "raises"}
    assert sum(r["num_queries"] for r in trained["per_relation"].values()) == trained["num_queries"]
    for result in (trained, random):
        assert 0 <= result["mlm_accuracy"] <= 1 and result["mlm_masked_roots"] > 0


def test_filtered_rank_drops_only_the_other_true_tails(kg_world):
    dataset = open_dataset(kg_world["dataset"])
    from graphmer_dist.data.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(dataset.tokenizer_path)
    tail_filter = TailFilter(read_triples(dataset.triples_path), tokenizer, max_tail=3)
    first = {t: int(ids[0]) for t, ids in zip(TAILS, encode_tails(tokenizer, TAILS))}
    apple, alpha = encode_tails(tokenizer, ["apple"])[0], tokenizer.encode(" alpha", add_special_tokens=False).ids
    assert tail_filter.excluded(RELATION_ID["calls"], apple, np.asarray(alpha)) == {first["banana"]}
    cherry = encode_tails(tokenizer, ["cherry"])[0]
    bravo = tokenizer.encode(" bravo", add_special_tokens=False).ids
    assert tail_filter.excluded(RELATION_ID["calls"], cherry, np.asarray(bravo)) == set()


def test_cli_writes_the_json_keys_and_finds_the_newest_checkpoint_of_a_run(kg_world, tmp_path, capsys):
    out = tmp_path / "eval.json"
    run_dir = kg_world["root"] / "trained"
    assert main(["eval", "--checkpoint", str(run_dir), "--dataset", str(kg_world["dataset"]),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"mrr", "hits_at_1", "hits_at_10", "num_queries", "per_relation", "mlm_accuracy",
            "mnm_accuracy"} <= set(result)
    assert result["checkpoint"].endswith("step-0000150") and result["hits_at_1"] == 1.0
    # This hand-built dataset has no test_lp split (like datasets of format 1): both numbers use 'test'.
    assert result["link_prediction_split"] == result["accuracy_split"] == result["split"] == "test"
    assert "link prediction on 'test'" in capsys.readouterr().out


def test_weights_that_do_not_fit_their_config_are_refused(kg_world, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(kg_world["random"], bad)
    wider = kg_world["config"].replace(model={"ffn_size": 256})
    (bad / "config.json").write_text(wider.to_json())
    with pytest.raises(CheckpointError, match="does not fit the model its own config.json describes"):
        evaluate_checkpoint(str(bad), str(kg_world["dataset"]))
    (bad / "model.pt").write_bytes(b"not a state dict")
    with pytest.raises(CheckpointError, match="model.pt cannot be read"):
        evaluate_checkpoint(str(bad), str(kg_world["dataset"]))
    (bad / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="no manifest.json"):
        evaluate_checkpoint(str(bad), str(kg_world["dataset"]))


def test_a_run_folder_without_checkpoints_is_a_checkpoint_error(tmp_path, capsys):
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", str(tmp_path)]) == 2
    assert "neither a checkpoint folder" in capsys.readouterr().err


def test_without_dataset_the_checkpoints_own_dataset_is_found_in_the_cache(tmp_path):
    corpus = tmp_path / "corpus" / "pkg"
    corpus.mkdir(parents=True)
    for i in range(6):
        (corpus / f"mod{i}.py").write_text(
            f"class Base{i}:\n    def run(self):\n        return helper{i}()\n\n\n"
            f"def helper{i}():\n    return Base{i}()\n\n\nclass Child{i}(Base{i}):\n    def run(self):\n"
            f"        return super().run()\n")
    config = load_config("tiny", [f"data.corpus={corpus.parent}", f"data.cache_dir={tmp_path / 'cache'}",
                                  "data.file_test_fraction=0.45", "data.triple_test_fraction=0.45"])
    from graphmer_dist.data import build_dataset

    dataset_dir = build_dataset(config, log=lambda line: None)
    model = GraphMERForPretraining(config.model, config.train)
    checkpoint = save_checkpoint(tmp_path / "ckpt", config, model, dataset_dir)
    result = evaluate_checkpoint(checkpoint)
    dataset = open_dataset(dataset_dir)
    assert result["dataset"] == str(dataset_dir)
    assert result["num_sequences"] == sum(dataset.shard_sizes("test")) > 0
    # Link prediction reads the query split, accuracy the plain one.
    assert (result["link_prediction_split"], result["accuracy_split"]) == ("test_lp", "test")
    assert result["num_queries"] == dataset.manifest["num_queries"]["test_lp"] > dataset.manifest["num_queries"]["test"]
    val = evaluate_checkpoint(checkpoint, split="val")
    assert (val["link_prediction_split"], val["accuracy_split"]) == ("val_lp", "val")
    assert val["num_queries"] == dataset.manifest["num_queries"]["val_lp"]

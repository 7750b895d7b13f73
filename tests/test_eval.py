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
from graphmer_dist.data.tokenizer import load_tokenizer
from graphmer_dist.eval.facts import FactIndex, read_facts
from graphmer_dist.eval.link_prediction import link_prediction_task
from graphmer_dist.eval.ranking import rank
from graphmer_dist.eval.queries import mask_positions, pass_batches
from graphmer_dist.model import GraphMERForPretraining
from graphmer_dist.relations import RELATION_ID, RELATIONS
from launch.cli import main

HEADS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
TAILS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"]
# (head, relation, tail): alpha calls two functions, so its second callee is filtered out of the first's ranking.
# The test facts below are injected; TRAIN_FACTS are only counted, by the most-frequent-tail baseline.
KG = [("alpha", "calls", "apple"), ("alpha", "calls", "banana"), ("bravo", "calls", "cherry"),
      ("charlie", "returns", "grape"), ("delta", "calls", "lemon"), ("delta", "raises", "mango"),
      ("echo", "returns", "peach"), ("foxtrot", "calls", "plum")]
# "zq" is never in the corpus: several tokens, a candidate of another length. A tail longer than K is
# never injected: neither a candidate nor a filtered answer.
TRAIN_FACTS = [("golf", "calls", "cherry"), ("hotel", "calls", "cherry"), ("golf", "calls", "plum"),
               ("golf", "calls", "zq"), ("alpha", "calls", "a_callee_name_far_longer_than_three_tokens")]


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
    shards = {"train": [], "val": []}
    for split in ("test", "test_lp"):  # the same sequences: test for accuracy, test_lp for link prediction
        index = TripleIndex(options)
        writer = ShardWriter(folder, split, shard_size=8, num_roots=model.num_roots)
        for text in texts:
            encoding = tokenizer.encode(text, add_special_tokens=False)
            mentions = [Mention(f"m.{m.group()}", m.start(), m.end())
                        for m in re.finditer(r"\b(" + "|".join(HEADS) + r")\b", text)]
            writer.add(build_file_sequences(np.asarray(encoding.ids, dtype=np.int32),
                                            np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2),
                                            mentions, index, model.num_roots, model.leaves_per_root))
        shards[split] = writer.close()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "relations.json").write_text(json.dumps({"relations": list(RELATIONS), "ids": RELATION_ID}))
    (folder / "triples.tsv").write_text("".join(f"m.{h}\t{r}\tm.{t}\t{split}\t{t}\n" for facts, split in
                                                ((KG, "test"), (TRAIN_FACTS, "train")) for h, r, t in facts))
    (folder / "manifest.json").write_text(json.dumps({
        "format_version": 3, "shards": shards, "vocab_size": model.vocab_size,
        "num_roots": model.num_roots, "leaves_per_root": model.leaves_per_root,
        "num_sequences": {split: sum(s["num_sequences"] for s in shards[split]) for split in shards}}))


def save_checkpoint(folder, config, model, dataset_dir) -> str:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config.to_json())
    torch.save(model.state_dict(), folder / "model.pt")
    shutil.copyfile(dataset_dir / "tokenizer.json", folder / "tokenizer.json")
    (folder / "manifest.json").write_text(json.dumps({"step": 1, "files": {}}))
    return str(folder)


def memorise(model, dataset, max_steps: int = 500) -> int:
    """Fit the MLM head (not the tied embedding) to the true tails' tokens at the [MASK] slots of the
    very forward passes eval runs, on the encoder's hidden states, until it replays every answer.
    Training the head alone keeps the fixture cheap on a loaded CPU; the encoder's states already tell
    the queries apart. Returns the steps taken."""
    task = link_prediction_task(dataset, "test", model.config)
    passes = task.passes()
    chunk, inputs = next(pass_batches(passes, task.queries, dataset, task.split, model.config, len(passes)))
    batch, position = mask_positions(chunk, task.queries, model.config)
    # Targets where the pass's length is the true tail's; the other slots (other lengths) stay free.
    target = torch.tensor([t if len(task.queries[q].tail) == p.length else -100
                           for p in chunk for q in p.queries for t in (task.queries[q].tail + (0,) * p.length)[:p.length]])
    model.eval()
    with torch.no_grad():
        states, layout = model.encoder.encode(**inputs)
        hidden = layout.gather(states, batch, position)[target >= 0]
    target = target[target >= 0]
    head = model.mlm_head
    optimizer = torch.optim.Adam([*head.dense.parameters(), *head.norm.parameters(), head.bias], lr=3e-2)
    for step in range(max_steps):
        logits = model.mlm_logits(hidden)
        if (logits.argmax(dim=-1) == target).all():  # every tail here is one token: rank 1
            return step  # checked before updating: the saved weights pass
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
    assert trained["tail_hits_at_1"] == 1.0 and trained["tail_mrr"] == 1.0 and trained["filtered_hits_at_1"] == 1.0
    # Few candidates per relation (raises has one), so chance is high for whole tails, not over the vocabulary.
    assert random["tail_hits_at_1"] < 1.0 and random["hits_at_1"] < 0.5 and random["mrr"] < 0.5
    assert set(trained["per_relation"]) == {"calls", "returns", "raises"}
    assert sum(r["num_queries"] for r in trained["per_relation"].values()) == trained["num_queries"]
    assert trained["per_relation"]["calls"]["num_candidates"] == 6  # apple banana cherry lemon plum zq
    assert trained["tail_mrr_vs_baseline"] == pytest.approx(1.0 / trained["baseline"]["tail_mrr"])
    for result in (trained, random):
        assert 0 <= result["mlm_accuracy"] <= 1 and result["mlm_masked_roots"] > 0
        assert 0 <= result["baseline"]["mlm_accuracy"] <= 1


def test_other_true_tails_are_found_through_the_head_mention(kg_world):
    dataset = open_dataset(kg_world["dataset"])
    tokenizer = load_tokenizer(dataset.tokenizer_path)
    ids = {t: tuple(a.tolist()) for t, a in zip(TAILS, encode_tails(tokenizer, TAILS))}
    facts = FactIndex(read_facts(dataset.triples_path), tokenizer, max_tail=3, vocab_size=512,
                      wanted={(RELATION_ID["calls"], ids[t]) for t in ("apple", "cherry")})
    alpha = np.asarray(tokenizer.encode(" alpha", add_special_tokens=False).ids)
    assert facts.true_tails(RELATION_ID["calls"], ids["apple"], alpha) == {ids["apple"], ids["banana"]}
    bravo = np.asarray(tokenizer.encode(" bravo", add_special_tokens=False).ids)
    assert facts.true_tails(RELATION_ID["calls"], ids["cherry"], bravo) == {ids["cherry"]}
    # Train counts: cherry is the tail of two train facts, plum of one, the test tails of none.
    calls = facts.candidates[RELATION_ID["calls"]]
    assert {t: calls.train_count[calls.index[ids[t]]] for t in ("apple", "cherry", "plum")} == \
        {"apple": 0, "cherry": 2, "plum": 1}


def test_cli_writes_the_json_keys_and_finds_the_newest_checkpoint_of_a_run(kg_world, tmp_path, capsys):
    out = tmp_path / "eval.json"
    run_dir = kg_world["root"] / "trained"
    assert main(["eval", "--checkpoint", str(run_dir), "--dataset", str(kg_world["dataset"]),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"tail_mrr", "tail_hits_at_1", "tail_hits_at_10", "mrr", "hits_at_1", "hits_at_10", "num_queries",
            "per_relation", "mlm_accuracy", "mnm_accuracy", "baseline", "tail_mrr_vs_baseline"} <= set(result)
    assert {"tail_mrr", "mrr", "filtered_mrr", "mlm_accuracy"} <= set(result["baseline"])
    assert result["checkpoint"].endswith("step-0000150") and result["tail_hits_at_1"] == 1.0
    assert (result["link_prediction_split"], result["accuracy_split"], result["split"]) == ("test_lp", "test", "test")
    printed = capsys.readouterr().out
    assert "link prediction on 'test_lp'" in printed and "baseline" in printed


def test_max_queries_zero_and_a_dataset_without_query_splits_exit_2(kg_world, tmp_path, capsys):
    args = ["eval", "--checkpoint", kg_world["trained"], "--dataset"]
    assert main([*args, str(kg_world["dataset"]), "--max-queries", "0"]) == 2
    assert "--max-queries 0 leaves nothing to evaluate" in capsys.readouterr().err
    old = tmp_path / "old"
    shutil.copytree(kg_world["dataset"], old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["shards"]["test_lp"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert main([*args, str(old)]) == 2
    assert "has no 'test_lp' query split" in capsys.readouterr().err


def test_a_relation_without_candidates_is_reported_not_scored(kg_world, tmp_path):
    damaged = tmp_path / "no-raises"
    shutil.copytree(kg_world["dataset"], damaged)
    lines = (damaged / "triples.tsv").read_text().splitlines(keepends=True)
    (damaged / "triples.tsv").write_text("".join(line for line in lines if "\traises\t" not in line))
    result = evaluate_checkpoint(kg_world["trained"], str(damaged))
    assert result["relations_without_candidates"] == ["raises"] and result["num_unmatched_queries"] > 0
    assert "raises" not in result["per_relation"] and result["tail_mrr"] == 1.0


def test_weights_that_do_not_fit_their_config_are_refused(kg_world, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(kg_world["random"], bad)
    wider = kg_world["config"].replace(model={"ffn_size": 256})
    (bad / "config.json").write_text(wider.to_json())
    with pytest.raises(CheckpointError, match="does not fit the model its own config.json describes"):
        evaluate_checkpoint(str(bad), str(kg_world["dataset"]))
    (bad / "model.pt").write_bytes(b"not a state dict")
    with pytest.raises(CheckpointError, match="model.pt was refused: it is not a plain tensor file"):
        evaluate_checkpoint(str(bad), str(kg_world["dataset"]))
    (bad / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="no manifest.json"):
        evaluate_checkpoint(str(bad), str(kg_world["dataset"]))


def test_a_run_folder_without_checkpoints_is_a_checkpoint_error(tmp_path, capsys):
    assert main(["eval", "--checkpoint", str(tmp_path), "--dataset", str(tmp_path)]) == 2
    assert "there is no checkpoint there" in capsys.readouterr().err


def test_without_dataset_the_checkpoints_own_dataset_is_found_in_the_cache(tmp_path):
    corpus = tmp_path / "corpus" / "pkg"
    corpus.mkdir(parents=True)
    for i in range(6):
        (corpus / f"mod{i}.py").write_text(
            f"class Base{i}:\n    def run(self):\n        return helper{i}()\n\n\n"
            f"def helper{i}():\n    return Base{i}()\n\n\nclass Child{i}(Base{i}):\n    def run(self):\n"
            f"        return super().run()\n")
    config = load_config("tiny", [f"data.corpus={corpus.parent}", f"data.cache_dir={tmp_path / 'cache'}",
                                  "data.file_test_fraction=0.45", "data.triple_test_fraction=0.45",
                                  "data.triple_val_fraction=0.3"])
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
    assert result["num_queries"] + result["num_unmatched_queries"] == dataset.manifest["num_queries"]["test_lp"]
    assert result["num_queries"] > dataset.manifest["num_queries"]["test"] and result["num_unmatched_queries"] == 0
    val = evaluate_checkpoint(checkpoint, split="val")
    assert (val["link_prediction_split"], val["accuracy_split"]) == ("val_lp", "val")
    assert val["num_queries"] == dataset.manifest["num_queries"]["val_lp"]
    assert result["baseline"]["tail_mrr"] is not None and result["tail_mrr_vs_baseline"] is not None


def test_rank_counts_ties_against_the_true_candidate_and_skips_the_filtered_ones():
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.9])
    assert rank(scores, 1) == 2            # tied with candidate 4: the tie counts against it
    assert rank(scores, 1, [4]) == 1       # ... unless 4 is another true answer
    assert rank(scores, 0) == 4 and rank(scores, 0, [1, 4]) == 2 and rank(scores, 3) == 5
    assert rank(np.zeros(7), 3) == 7       # a constant scorer gets the worst rank, not the best


def constant_head_model(config, bias: torch.Tensor) -> GraphMERForPretraining:
    """A model whose MLM logits are `bias` at every position: the head's LayerNorm outputs zeros."""
    torch.manual_seed(0)
    model = GraphMERForPretraining(config.model, config.train)
    with torch.no_grad():
        model.mlm_head.norm.weight.zero_()
        model.mlm_head.norm.bias.zero_()
        model.mlm_head.bias.copy_(bias)
    return model


def test_whole_tail_ranks_of_hand_made_scores(kg_world):
    config, dataset = kg_world["config"], open_dataset(kg_world["dataset"])
    tokenizer = load_tokenizer(dataset.tokenizer_path)
    ids = {t: tuple(a.tolist()) for t, a in zip(TAILS + ["zq"], encode_tails(tokenizer, TAILS + ["zq"]))}
    assert all(len(ids[t]) == 1 for t in TAILS) and 2 <= len(ids["zq"]) <= 3
    task = link_prediction_task(dataset, "test", config.model)
    tails = [next(t for t, i in ids.items() if i == q.tail) for q in task.queries]
    # Uniform logits: every token has log-probability -log V, a tail of L tokens -L log V. calls has
    # five one-token candidates, all tied (ties count against), and zq, worse; alpha's other callee
    # is filtered out of its ranking.
    ranks = task.ranks(constant_head_model(config, torch.zeros(512)))
    expected_raw = {"apple": 5, "banana": 5, "cherry": 5, "lemon": 5, "plum": 5, "grape": 2, "peach": 2, "mango": 1}
    assert [int(r) for r in ranks["tail_raw_"]] == [expected_raw[t] for t in tails]
    assert [int(r) for r in ranks["tail_"]] == [expected_raw[t] - (t in ("apple", "banana")) for t in tails]
    # zq's tokens far more likely than any other: zq beats every one-token tail even summed over 2-3 slots.
    bias = torch.zeros(512)
    bias[list(ids["zq"])] = 30.0
    bias[ids["cherry"][0]] = 5.0
    ranks = task.ranks(constant_head_model(config, bias))
    expected = {"apple": 6, "banana": 6, "cherry": 2, "lemon": 6, "plum": 6, "grape": 2, "peach": 2, "mango": 1}
    assert [int(r) for r in ranks["tail_raw_"]] == [expected[t] for t in tails]
    # First token over the vocabulary: only zq's tokens outrank cherry's.
    first = [int(r) for r, t in zip(ranks[""], tails) if t == "cherry"]
    assert first and set(first) == {1 + len(ids["zq"])}


def test_count_baselines_on_the_same_queries(kg_world):
    dataset = open_dataset(kg_world["dataset"])
    tokenizer = load_tokenizer(dataset.tokenizer_path)
    ids = {t: tuple(a.tolist()) for t, a in zip(TAILS, encode_tails(tokenizer, TAILS))}
    task = link_prediction_task(dataset, "test", kg_world["config"].model)
    tails = [next(t for t, i in ids.items() if i == q.tail) for q in task.queries]
    # Train counts for calls: cherry 2, plum 1, zq 1, the test tails 0 (ties count against).
    expected_raw = {"apple": 6, "banana": 6, "cherry": 1, "lemon": 6, "plum": 3, "grape": 2, "peach": 2, "mango": 1}
    assert [int(r) for r in task.baseline_ranks["tail_raw_"]] == [expected_raw[t] for t in tails]
    assert [int(r) for r in task.baseline_ranks["tail_"]] == [expected_raw[t] - (t in ("apple", "banana")) for t in tails]
    token = {t: int(r) for r, t in zip(task.baseline_ranks[""], tails)}
    assert token["cherry"] == 1 and token["plum"] == 3   # behind cherry, tied with zq's first token
    assert task.baseline["num_queries"] == len(tails)
    assert task.baseline["tail_mrr"] == pytest.approx(np.mean([1 / (expected_raw[t] - (t in ("apple", "banana")))
                                                               for t in tails]))


def test_accuracy_stops_once_enough_roots_were_masked_unless_a_count_is_given(kg_world):
    import contextlib

    from graphmer_dist.eval.accuracy import masked_accuracy
    from graphmer_dist.eval.checkpoint import load_checkpoint
    from graphmer_dist.masking import MaskingCollator

    loaded, dataset = load_checkpoint(kg_world["random"]), open_dataset(kg_world["dataset"])
    collator = MaskingCollator(loaded.config.model, loaded.config.train, dataset.vocab_flags())
    args = (loaded.model, dataset, "test", collator, torch.device("cpu"), contextlib.nullcontext(), 4)
    few = masked_accuracy(*args, enough_roots=1)
    assert few["num_sequences"] == 4 and few["mlm_masked_roots"] >= 1   # one batch was enough
    assert masked_accuracy(*args, max_sequences=6, enough_roots=1)["num_sequences"] == 6
    assert masked_accuracy(*args)["num_sequences"] == sum(dataset.shard_sizes("test")) == 14

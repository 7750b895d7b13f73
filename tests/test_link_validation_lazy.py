"""Link validation during training costs nothing before the first step (issue 15): rank 0 builds its
task (query sample + fact index over every triple, ~15 s for cpu-small) at the first validation."""

from __future__ import annotations

import tempfile

from graphmer_dist.config_loader import load_config
from graphmer_dist.eval.link_prediction import LinkPredictionTask
from graphmer_dist.train.setup import build_context


def test_link_validation_is_built_at_its_first_use_and_only_once(tiny_dataset):
    config = load_config("tiny", [f"data.dataset_dir={tiny_dataset}", "train.eval_queries=8"])
    job = {"config": config.to_dict(), "dataset_dir": str(tiny_dataset), "run_dir": tempfile.mkdtemp()}
    link = build_context(job).link_task  # a single process is rank 0
    assert link is not None and not link.built
    task = link.task()
    assert isinstance(task, LinkPredictionTask) and 0 < len(task.queries) <= 8 and link.built
    assert link.task() is task

    no_queries = load_config("tiny", [f"data.dataset_dir={tiny_dataset}", "train.eval_queries=0"])
    assert build_context({**job, "config": no_queries.to_dict()}).link_task is None

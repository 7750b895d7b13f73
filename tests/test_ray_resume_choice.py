"""A Ray run follows the user's --resume even where an earlier Ray run used the same run folder.

Ray Train restores a run by its storage path and name (ours: `<run_dir>/checkpoints`), so a new run in that
folder is handed the last checkpoint the earlier run registered. Before the fix, `--resume never` there
silently continued from it: the second run below trained nothing (and a probe with fewer steps than the
earlier run's checkpoint exited 75, "stopped early at step 400/300").
"""

from __future__ import annotations

import pytest
from fixtures.ray_runs import run_on_ray, train_rows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("inductor_cache")]

RUN = ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
       "train.steps=4", "checkpoint.every_steps=2", "parallel.strategy=ddp", "parallel.num_workers=1",
       "train.global_batch_size=4"]


def test_resume_never_starts_fresh_in_a_folder_an_earlier_ray_run_used(ray_cluster, tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    assert run_on_ray(tiny_dataset, run_dir, RUN) == 0
    assert [row["step"] for row in train_rows(run_dir)] == [1, 2, 3, 4]

    assert run_on_ray(tiny_dataset, run_dir, [*RUN, "checkpoint.resume=never"]) == 0
    # metrics.jsonl is appended to: the second run's rows start again at step 1.
    assert [row["step"] for row in train_rows(run_dir)] == [1, 2, 3, 4, 1, 2, 3, 4]


def test_resume_auto_continues_from_the_earlier_ray_runs_checkpoint(ray_cluster, tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    assert run_on_ray(tiny_dataset, run_dir, RUN) == 0
    assert run_on_ray(tiny_dataset, run_dir, [*RUN[:4], "train.steps=6", *RUN[5:], "checkpoint.resume=auto"]) == 0
    assert [row["step"] for row in train_rows(run_dir)] == [1, 2, 3, 4, 5, 6]

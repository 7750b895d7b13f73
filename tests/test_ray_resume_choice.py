"""A Ray run follows the user's --resume even where an earlier Ray run used the same run folder.

Ray Train restores a run by its storage path and name (ours: `<run_dir>/checkpoints`), so a new run in that
folder was handed the last checkpoint the earlier run registered: `--resume never` there silently continued
from it (the second run below trained nothing). With that fixed alone, Ray's retention then deleted the
fresh run's `step-0000002` by the earlier run's entry of the same name, and the third run failed on "a
corrupted run directory". Each launch now starts Ray's bookkeeping afresh (launch/ray_driver.py).
"""

from __future__ import annotations

import pytest
from fixtures.ray_runs import run_on_ray, train_rows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("inductor_cache")]

RUN = ["model.attention=eager", "train.precision=fp32", "train.log_every=1", "train.eval_every=1000",
       "train.steps=4", "checkpoint.every_steps=2", "parallel.strategy=ddp", "parallel.num_workers=1",
       "train.global_batch_size=4"]


def test_resume_never_starts_fresh_and_auto_continues_in_a_folder_an_earlier_ray_run_used(
        ray_cluster, tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    assert run_on_ray(tiny_dataset, run_dir, RUN) == 0
    assert [row["step"] for row in train_rows(run_dir)] == [1, 2, 3, 4]

    assert run_on_ray(tiny_dataset, run_dir, [*RUN, "checkpoint.resume=never"]) == 0
    # metrics.jsonl is appended to: the second run's rows start again at step 1.
    assert [row["step"] for row in train_rows(run_dir)] == [1, 2, 3, 4, 1, 2, 3, 4]

    longer = [*RUN[:4], "train.steps=6", *RUN[5:], "checkpoint.resume=auto"]
    assert run_on_ray(tiny_dataset, run_dir, longer) == 0
    assert [row["step"] for row in train_rows(run_dir)] == [1, 2, 3, 4, 1, 2, 3, 4, 5, 6]

"""`graphmer-launch bench --suite`: real benchmark steps turned into records of the run schema."""

import pytest

from graphmer_dist.records import load_records, record_problems
from launch import bench_suite
from launch.cli import main


def test_suite_skips_gpu_only_entries_without_a_gpu():
    assert [e.config for e in bench_suite.selected(None, has_gpu=False)] == ["tiny", "cpu-small"]
    assert len(bench_suite.selected(None, has_gpu=True)) == len(bench_suite.SUITE)
    with pytest.raises(Exception, match=r"unknown entry \['huge'\]"):
        bench_suite.selected(["huge"], has_gpu=False)


def test_suite_writes_bench_records_to_the_out_folder_and_the_store(tmp_path, monkeypatch, capsys,
                                                                     restore_torch_state, tiny_dataset):
    # The real entries take ~20 s each on a shared 2-core machine; the same code path with fewer steps.
    monkeypatch.setattr(bench_suite, "SUITE", (bench_suite.SuiteEntry("tiny", batch_size=2, warmup=1, steps=4),))
    out, store = tmp_path / "out", tmp_path / "store"
    assert main(["bench", "--suite", "--out", str(out), "--bench-store", str(store), "--platform", "local",
                 "--precision", "fp32", "--price-per-hour", "0.5", "--dataset", str(tiny_dataset)]) == 0
    (record,) = load_records([str(out)])
    assert load_records([str(store)])[0]["run_id"] == record["run_id"]
    assert record_problems(record) == [] and record["kind"] == "bench"
    assert record["platform"]["name"] == "local" and record["precision"] == "fp32"
    assert record["suite"] == {"version": bench_suite.SUITE_VERSION, "entry": "tiny", "batch_size": 2,
                               "warmup_steps": 1, "steps": 4, "attention": record["config"]["model"]["attention"],
                               "threads": record["suite"]["threads"]}
    tp = record["throughput"]
    assert tp["steady_steps"] == 4 and tp["warmup_steps"] == 0  # warm-up was never timed
    assert tp["tokens_per_s"]["p10"] <= tp["tokens_per_s"]["median"] <= tp["tokens_per_s"]["p90"]
    assert 0 < tp["mfu"] < 1 and tp["peak_source"] == "given"
    assert 0 < tp["nonpad_fraction"] < 1 and tp["nonpad_tokens_per_s"]["median"] < tp["tokens_per_s"]["median"]
    assert record["price_per_hour"] == 0.5
    assert "tiny" not in capsys.readouterr().err

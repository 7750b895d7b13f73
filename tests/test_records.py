"""Benchmark records: the collector's numbers, schema round-trip, MFU from the peak table, loading."""

import json

import pytest

from graphmer_dist.config_loader import load_config
from graphmer_dist.errors import DataError
from graphmer_dist.records import (SCHEMA_VERSION, RunBenchmark, append_record, load_records, record_problems,
                                   table_peak_flops)
from graphmer_dist.bench.flops import training_flops_per_token
from graphmer_dist.records.peaks import canonical_device


@pytest.fixture(scope="module")
def tiny():
    return load_config("tiny", ["benchmark.warmup_steps=2"])


def run_steps(bench: RunBenchmark, step_seconds: list[float], tokens: int = 256, samples: int = 4) -> None:
    bench.mark_start()
    for i, seconds in enumerate(step_seconds):
        bench.step(i + 1, seconds, tokens, samples, data_wait_s=seconds / 4)


def test_throughput_drops_warmup_steps_and_reports_percentiles(tiny):
    bench = RunBenchmark(tiny, device_type="cuda", device_name="Tesla T4", precision="fp16")
    run_steps(bench, [10.0, 5.0, 1.0, 1.0, 2.0, 0.5])  # the two slow warm-up steps must not count
    tp = bench.throughput()
    assert tp["steady_steps"] == 4 and tp["warmup_steps"] == 2
    assert tp["tokens_per_s"]["median"] == pytest.approx(256 / 1.0)
    assert tp["tokens_per_s"]["p10"] < tp["tokens_per_s"]["median"] < tp["tokens_per_s"]["p90"]
    assert tp["samples_per_s"]["median"] == pytest.approx(4 / 1.0)


def test_mfu_uses_the_datasheet_peak_of_a_known_gpu(tiny):
    bench = RunBenchmark(tiny, world_size=2, device_type="cuda", device_name="NVIDIA A100-SXM4-40GB",
                         precision="bf16")
    run_steps(bench, [1.0, 1.0, 0.5, 0.5], tokens=1000)  # steady: 2000 tokens/s over 2 devices
    tp = bench.throughput()
    assert tp["peak_source"] == "table:A100/bf16"
    assert tp["tokens_per_s_per_device"] == pytest.approx(1000.0)
    expected = 1000.0 * training_flops_per_token(tiny.model, tiny.train) / 312e12
    assert tp["mfu"] == pytest.approx(expected)


def test_peak_table_matches_device_names_and_refuses_missing_precisions():
    assert canonical_device("NVIDIA A10G") == "A10G"
    assert canonical_device("NVIDIA A10") == "A10"
    assert canonical_device("NVIDIA GeForce RTX 3070") == "RTX3070"
    assert canonical_device("Tesla P100-PCIE-16GB") == "P100"
    assert table_peak_flops("Tesla T4", "bf16") is None  # T4 has no bf16 hardware
    assert table_peak_flops("Some Unknown GPU", "fp16") is None


def test_cpu_peak_is_measured_and_gives_an_mfu_between_0_and_1(tiny):
    bench = RunBenchmark(tiny, device_type="cpu", precision="fp32")
    run_steps(bench, [0.2, 0.1, 0.1, 0.1])
    tp = bench.throughput()
    assert tp["peak_source"] == "measured:cpu/fp32" and tp["peak_flops_per_device"] > 1e9
    assert 0 < tp["mfu"] < 1


def test_record_round_trips_through_the_run_folder_and_a_store(tiny, tmp_path):
    bench = RunBenchmark(tiny, platform={"name": "local"}, device_type="cuda", device_name="Tesla T4",
                         precision="fp16", run_dir=str(tmp_path / "run"))
    run_steps(bench, [1.0, 1.0, 1.0])
    bench.checkpoint(0.5)
    bench.checkpoint(1.5)
    record = bench.finish({"loss": 3.25})
    assert record_problems(record) == []
    assert record["schema_version"] == SCHEMA_VERSION and record["config_hash"] == tiny.hash()
    assert record["checkpoint_save_s"] == {"count": 2, "total": 2.0, "mean": 1.0, "max": 1.5}
    assert record["data_wait_fraction"] == pytest.approx(0.25)
    assert record["time_to_first_step_s"] >= 0 and record["peak_memory_bytes"] > 0
    append_record(str(tmp_path / "run"), record, store=str(tmp_path / "store"))
    append_record(str(tmp_path / "run"), record)
    from_run = load_records([str(tmp_path / "run")])
    from_store = load_records([str(tmp_path / "store")])
    assert len(from_run) == 2 and len(from_store) == 1
    for loaded in (*from_run, *from_store):
        assert {k: v for k, v in loaded.items() if k != "_source"} == json.loads(json.dumps(record))
    assert from_run[1]["_source"].endswith("benchmarks.jsonl:2")


def test_a_bad_record_names_its_file_and_line(tiny, tmp_path):
    record = RunBenchmark(tiny).finish({})
    good = json.dumps(record)
    bad = dict(record, world_size="two")
    path = tmp_path / "benchmarks.jsonl"
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=r"benchmarks\.jsonl:2 .*'world_size' should be int"):
        load_records([str(path)])
    path.write_text(good + "\n" + good[:40] + "\n")
    with pytest.raises(DataError, match=r"benchmarks\.jsonl:2 is not valid JSON"):
        load_records([str(path)])
    path.write_text(json.dumps(dict(record, schema_version=99)) + "\n")
    with pytest.raises(DataError, match="schema_version is 99"):
        load_records([str(path)])
    with pytest.raises(DataError, match="does not exist"):
        load_records([str(tmp_path / "nowhere")])


def test_records_go_to_and_come_back_from_s3(tiny, s3):
    bench = RunBenchmark(tiny, platform={"name": "cluster"}, device_type="cuda", device_name="NVIDIA H100 80GB HBM3",
                         precision="bf16", run_dir=s3.uri("runs/a"))
    run_steps(bench, [1.0, 1.0, 1.0])
    record = bench.finish({"loss": 1.0})
    append_record(s3.uri("runs/a"), record, store=s3.uri("collected"), endpoint=s3.endpoint)
    append_record(s3.uri("runs/a"), record, endpoint=s3.endpoint)
    keys = [o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert "runs/a/benchmarks.jsonl" in keys and sum(k.startswith("collected/benchmarks/") for k in keys) == 1
    loaded = load_records([s3.uri("runs/a"), s3.uri("collected")], endpoint=s3.endpoint)
    assert [r["_source"].split("/", 3)[-1] for r in loaded] == [
        "runs/a/benchmarks.jsonl:1", "runs/a/benchmarks.jsonl:2",
        f"collected/{next(k for k in keys if k.startswith('collected/'))[len('collected/'):]}"]
    assert all(r["throughput"]["peak_source"] == "table:H100/bf16" for r in loaded)

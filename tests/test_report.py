"""`graphmer-launch report` on hand-made records from three platforms."""

import json

import pytest

from graphmer_dist.config_loader import load_config
from graphmer_dist.records import RunBenchmark, append_record
from graphmer_dist.records.report import loss_curve, validation_curve
from launch.cli import main

PLATFORMS = [
    # (platform, device type, device name, strategy overrides, world size, precision, step seconds, price/h)
    ("kaggle", "cuda", "Tesla T4", ["parallel.strategy=ddp", "parallel.num_workers=2"], 2, "fp16", 0.05, 0.0),
    ("colab", "cuda", "NVIDIA A100-SXM4-40GB", [], 1, "bf16", 0.01, 1.2),
    ("local", "cpu", "AMD EPYC", ["parallel.strategy=deepspeed", "parallel.zero_stage=2",
                                  "parallel.num_workers=2"], 2, "fp32", 0.5, 0.0),
]


def make_run(tmp_path, platform, device_type, device, overrides, world, precision, seconds, price):
    config = load_config("tiny", [*overrides, f"benchmark.price_per_hour={price}", "train.global_batch_size=8"])
    run_dir = tmp_path / platform
    bench = RunBenchmark(config, platform={"name": platform}, world_size=world, precision=precision,
                         device_type=device_type, device_name=device, run_dir=str(run_dir),
                         peak_flops=1e12 if device_type == "cpu" else None)
    bench.mark_start()
    for step in range(1, 6):
        bench.step(step, seconds, tokens=512, samples=8)
    bench.checkpoint(0.25)
    run_dir.mkdir()
    losses = [6.0 - step * (0.5 if platform == "colab" else 0.2) for step in range(1, 6)]
    rows = [{"step": s, "loss": l} for s, l in enumerate(losses, start=1)]
    validation = {"val_tail_mrr": 0.3, "val_tail_mrr_baseline": 0.2} if platform == "colab" else {}
    if validation:  # two validations, the last one also in the final metrics
        rows[2:2] = [{"step": 3, "eval": True, "val_tail_mrr": 0.1, "val_tail_mrr_baseline": 0.2}]
        rows.append({"step": 5, "eval": True, **validation})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    append_record(str(run_dir), bench.finish({"loss": losses[-1], **validation}), store=str(tmp_path / "store"))
    return run_dir


@pytest.fixture()
def runs(tmp_path):
    return [make_run(tmp_path, *spec) for spec in PLATFORMS]


def test_report_table_markdown_and_png(runs, tmp_path, capsys):
    png, md = tmp_path / "out" / "report.png", tmp_path / "report.md"
    assert main(["report", *map(str, runs), "--png", str(png), "--markdown", str(md)]) == 0
    table = capsys.readouterr().out
    for expected in ("kaggle", "colab", "local", "T4", "A100-SXM4-40GB", "zero-2", "ddp", "single", "fp16"):
        assert expected in table
    lines = md.read_text().splitlines()
    assert lines[0].startswith("| platform | device | strategy | world size |") and len(lines) == 5
    colab = next(line.split(" | ") for line in lines if line.startswith("| colab"))
    # 512 tokens / 0.01 s = 51,200 tokens/s; at $1.20/h that is 51200 × 3600 / 1.2 tokens per dollar.
    assert colab[5:8] == ["51,200", "51,200", f"{51200 * 3600 / 1.2:,.0f}"]
    kaggle = next(line.split(" | ") for line in lines if line.startswith("| kaggle"))
    assert kaggle[5:8] == ["10,240", "5,120", "–"]  # per device halves it; no price, no tokens/$
    assert kaggle[-3:] == ["5.0000", "–", "– |"]  # final loss; no validation MRR
    assert colab[-2:] == ["0.3000", "1.50× |"]   # the last validation MRR and its ratio to the baseline
    assert validation_curve(str(runs[1])) == [(3, 0.1, 0.2), (5, 0.3, 0.2)]
    assert loss_curve(str(runs[1]))[-1] == (5, 3.5)
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_reads_a_store_folder_and_prints_markdown_to_stdout(runs, tmp_path, capsys):
    assert main(["report", str(tmp_path / "store"), "--markdown", "-"]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("| ") and "---" not in line for line in out.splitlines()) == 4  # header + 3 runs


def test_report_on_a_folder_without_records_is_a_user_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no benchmarks.jsonl" in capsys.readouterr().err

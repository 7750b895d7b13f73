"""benchmarks/single_vs_ray.py gives a verdict only when its paired rounds agree (issue 15)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "single_vs_ray.py"
spec = importlib.util.spec_from_file_location("single_vs_ray", SCRIPT)
single_vs_ray = importlib.util.module_from_spec(spec)
spec.loader.exec_module(single_vs_ray)


def test_verdict_needs_the_middle_half_of_the_paired_ratios_on_one_side():
    judge = single_vs_ray.judge
    assert judge([0.97, 0.99, 1.01, 0.98, 0.96, 1.0], 0.05)["verdict"] == "Ray costs less than 5%"
    assert judge([0.80, 0.85, 0.90, 0.88, 0.83, 0.86], 0.05)["verdict"] == "Ray costs more than 5%"
    # The two runs an hour apart (0.82 and 0.999) and others like them: no verdict.
    noisy = judge([0.82, 0.999, 0.90, 1.02, 0.86, 0.97], 0.05)
    assert noisy["verdict"].startswith("no verdict: the rounds disagree")
    assert (noisy["min"], noisy["max"]) == (0.82, 1.02) and noisy["q1"] < 0.95 < noisy["q3"]
    assert judge([0.99, 1.0], 0.05)["verdict"].startswith("no verdict: 2 rounds are too few")

"""Smoke test of benchmarks/training.py --quick: every method runs, the figures and the
summary have their shape; nothing about which method is better."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def training_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("training", None)
    import training

    return training


def test_quick_mode_runs_every_method_and_writes_the_figures(training_benchmark, tmp_path):
    out = tmp_path / "training.json"
    result = training_benchmark.main(["--quick", "--out", str(out)])
    stored = json.loads(out.read_text())
    assert stored["methods"] == ["sandwich", "progressive", "sorted"] == list(stored["summary"])
    assert len(stored["runs"]) == 3 and result["seeds"] == 1
    for run in stored["runs"]:
        assert 0.0 <= run["test_accuracy_smallest"] <= 1.0
        assert 0.0 <= run["hypervolume"] <= 1.0 and run["train_seconds"] > 0
        assert run["reference_point"][0] == 0.0 and run["reference_point"][1] > 0
    passes = {r["method"]: r["subnet_passes"] for r in stored["runs"]}
    assert passes["sandwich"] == passes["sorted"] > passes["progressive"]
    assert stored["machine"]["cpu_count"] >= 1 and "load_average" in stored["machine"]

"""Smoke tests of benchmarks/latency_table.py and benchmarks/latency_under_load.py on a
tiny family: the results' shape and bookkeeping, not the figures (those need a quiet
machine and the full runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def benchmarks(monkeypatch, tmp_path):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import latency_table
    import latency_under_load

    return latency_table, latency_under_load


@pytest.mark.slow
def test_latency_table_benchmark_writes_its_figures(benchmarks, tmp_path, monkeypatch):
    latency_table, _ = benchmarks
    out = tmp_path / "table.json"
    monkeypatch.setattr(latency_table, "FAMILIES", {"tiny_elastic_cnn": (3, 3)})
    monkeypatch.setattr(sys, "argv", ["latency_table.py", "--quick", "--families",
                                      "tiny_elastic_cnn", "--out", str(out)])
    latency_table.main()
    report = json.loads(out.read_text())
    family = report["families"]["tiny_elastic_cnn"]
    assert set(report["worst_family"].values()) == {"tiny_elastic_cnn"} and report["n"] == 8
    assert report["kendall_tau"] == family["kendall_tau"]
    assert -1 <= report["kendall_tau_measured_again"] <= 1
    assert len(family["predicted_ms"]) == len(family["measured_again_ms"]) == 8
    assert 0 <= family["within_10pct"] <= 1 and family["units"] > 0
    assert report["machine"]["load_average_before"] is not None


@pytest.mark.slow
def test_latency_under_load_benchmark_starts_and_stops_its_load(benchmarks, tmp_path,
                                                                 monkeypatch):
    _, under_load = benchmarks
    out = tmp_path / "load.json"
    started = []
    original = under_load.start_background

    def start(count):
        started.extend(original(count))
        return started[-count:]

    monkeypatch.setattr(under_load, "start_background", start)
    monkeypatch.setattr(sys, "argv", ["latency_under_load.py", "--family", "tiny_elastic_cnn",
                                      "--subnetworks", "3", "--out", str(out)])
    under_load.main()
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {"before", "robust"}
    for figures in report["methods"].values():
        assert len(figures["latency_ms"]["loaded"]) == 3
        assert figures["throughput_ratio"] > 0
    assert len(started) == 2 and all(p.poll() is not None for p in started)

"""Smoke test of benchmarks/search_efficiency.py: every method, ~30 evaluations, on a small
synthetic table; checks the results' shape, not their figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hwnas.testing.strategies import synthetic_objectives, synthetic_space

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def search_efficiency():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import search_efficiency
    finally:
        sys.path.remove(str(BENCHMARKS))
    return search_efficiency


@pytest.fixture(scope="module")
def bench(search_efficiency):
    space = synthetic_space(stages=2)  # 7,056 sub-networks
    return search_efficiency.synthetic_benchmark(
        space, lambda config: synthetic_objectives(space, config))


SMALL = {  # every method within ~30 evaluations, and quick
    "linas": {"initial_population": 10, "inner_generations": 5},
    "dynast-linas": {"population": 10, "generations": 5, "alphas": [1.0], "costs": [1.0, 10.0]},
}
CHECKPOINTS = (10, 20, 30)


def test_every_method_runs_and_the_results_have_the_documented_shape(search_efficiency, bench,
                                                                     tmp_path):
    se = search_efficiency
    records = se.run_all(bench, se.METHODS, seeds=[0, 1], max_evaluations=30, workers=1,
                         cache_dir=tmp_path / "runs", options=SMALL, progress=False)
    assert sorted((r["method"], r["seed"]) for r in records) == sorted(
        (m, s) for m in se.METHODS for s in (0, 1))
    for record in records:
        curve = np.array(record["hv_fraction"])
        assert record["evaluations"] == len(curve) == 30, record["method"]
        assert np.all(np.diff(curve) >= 0) and 0 < curve[-1] <= 1 + 1e-9, record["method"]

    summary = se.summarize(records, se.METHODS, CHECKPOINTS)
    data = se.results_json(summary, seeds=2, space_size=len(bench))
    se._write_json(tmp_path / "search_efficiency.json", data)
    data = json.loads((tmp_path / "search_efficiency.json").read_text())
    assert set(data) == {"methods", "seeds", "space_size"}
    assert data["space_size"] == 7056 and data["seeds"] == 2
    assert set(data["methods"]) == set(se.METHODS)
    for entry in data["methods"].values():
        assert set(entry["hv_fraction"]) == {str(c) for c in CHECKPOINTS}
        assert all(0 < v <= 1 for v in entry["hv_fraction"].values())
        for key in ("evals_to_95", "evals_to_98"):
            assert entry[key] is None or 1 <= entry[key] <= 30

    checks = se.target_checks(records, summary)
    assert len(checks) == 4 and all(met in (True, False, None) for _, met, _ in checks)
    se.plot_curves(records, se.METHODS, tmp_path / "curves.png", "smoke")
    assert (tmp_path / "curves.png").stat().st_size > 0

    cached = se.run_all(bench, ["linas"], seeds=[0], max_evaluations=30, workers=1,
                        cache_dir=tmp_path / "runs", options=SMALL, progress=False)
    assert cached[0]["hv_fraction"] == next(
        r for r in records if r["method"] == "linas" and r["seed"] == 0)["hv_fraction"]


def test_hv_fraction_curve_counts_only_improvements(search_efficiency):
    points = np.array([[0.5, 5.0], [0.5, 5.0], [0.4, 6.0], [0.9, 9.0]])
    curve = search_efficiency.hv_fraction_curve(points, ["maximize", "minimize"],
                                                reference=[0.0, 10.0], best=5.0)
    assert curve.tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5 + 0.4 * 1.0 / 5.0])

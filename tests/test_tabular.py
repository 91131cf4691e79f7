"""The packaged tabular benchmark: complete, consistent, and fast enough to search on."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hwnas.errors import InvalidConfigError, UnknownNameError
from hwnas.pareto import hypervolume
from hwnas.study import Study
from hwnas.supernets import create_supernet
from hwnas.tabular import TabularBenchmark, load_benchmark

OBJECTIVES = [("accuracy", "maximize"), ("latency", "minimize")]


@pytest.fixture(scope="module")
def bench() -> TabularBenchmark:
    return load_benchmark("mnist1d_cnn1d")


def _dominates(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` dominating ``b`` (all columns minimised); broadcasts."""
    return np.all(a <= b, axis=-1) & np.any(a < b, axis=-1)


def test_table_covers_the_space_exactly_once(bench):
    space = create_supernet("cnn1d_bench").space
    assert bench.space == space
    assert len(bench) == space.size() == 20736
    assert bench.metadata["build"]["complete"]
    assert len(np.unique(bench.configs, axis=0)) == len(bench)
    ids = {space.arch_id(bench.config(row)) for row in range(len(bench))}
    assert len(ids) == len(bench)
    enumerated = {space.arch_id(c) for c in space.enumerate()}
    assert ids == enumerated


def test_values_are_finite_and_plausible(bench):
    assert set(bench.metrics) >= {"accuracy", "test_accuracy", "latency", "macs", "params",
                                  "model_size"}
    values = bench.values(bench.metrics)
    assert np.isfinite(values).all()
    assert np.isfinite(bench.spreads(bench.metrics)).all()
    accuracy, latency = bench.values(["accuracy", "latency"]).T
    assert 0.0 < accuracy.min() < accuracy.max() <= 1.0
    assert (latency > 0).all()
    for key in ("dataset", "training", "measures", "machine", "build"):
        assert key in bench.metadata


def test_lookup_equals_the_row(bench):
    rng = np.random.default_rng(0)
    for row in rng.choice(len(bench), size=20, replace=False):
        config = bench.config(int(row))
        measured = bench.lookup(config)
        assert bench.row(config) == row
        assert set(measured) == set(bench.metrics)
        for name, measurement in measured.items():
            assert measurement.value == pytest.approx(bench.values([name])[row, 0])
            assert measurement.spread == pytest.approx(bench.spreads([name])[row, 0])
        assert bench(config) == measured


def test_inactive_genes_do_not_matter(bench):
    space = bench.space
    config = {**space.largest(), "stage0.depth": 1}
    other = {**config, "stage0.block1.width": space["stage0.block1.width"].values[0]}
    assert bench.lookup(config) == bench.lookup(other)


def test_lookup_of_a_config_outside_the_space_raises(bench):
    config = bench.space.largest()
    with pytest.raises(InvalidConfigError, match="outside the search space"):
        bench.lookup({**config, "stage0.block0.width": 7})
    with pytest.raises(InvalidConfigError, match="unknown dimension"):
        bench.lookup({**config, "stage9.depth": 1})
    with pytest.raises(InvalidConfigError, match="missing"):
        bench.lookup({k: v for k, v in config.items() if k != "stage0.depth"})


def test_unknown_benchmark_and_metric_raise(bench):
    with pytest.raises(UnknownNameError, match="mnist1d_cnn1d"):
        load_benchmark("mnist1d_cnn")
    with pytest.raises(InvalidConfigError, match="unknown metric"):
        bench.values(["acuracy"])


def test_pareto_front_matches_brute_force_on_a_subset(bench):
    rows = np.random.default_rng(1).choice(len(bench), size=600, replace=False)
    front = bench.pareto_front(OBJECTIVES, rows=rows)
    points = bench.values(["accuracy", "latency"])[rows] * np.array([-1.0, 1.0])
    dominated = _dominates(points[None, :, :], points[:, None, :]).any(axis=1)
    assert front.tolist() == sorted(rows[~dominated].tolist())


def test_pareto_front_of_the_whole_table_is_exact(bench):
    front = bench.pareto_front(OBJECTIVES)
    points = bench.values(["accuracy", "latency"]) * np.array([-1.0, 1.0])
    on_front = np.zeros(len(bench), dtype=bool)
    on_front[front] = True
    # no row dominates a front member, and a front member dominates every other row
    assert not _dominates(points[None, :, :], points[front][:, None, :]).any()
    assert _dominates(points[front][None, :, :], points[~on_front][:, None, :]).any(axis=1).all()


def test_reference_and_hypervolume(bench):
    reference = bench.default_reference(OBJECTIVES)
    accuracy, latency = bench.values(["accuracy", "latency"]).T
    assert reference == [accuracy.min(), latency.max()]
    best = bench.hypervolume_of_front(OBJECTIVES)
    assert best > 0
    sample = np.random.default_rng(2).choice(len(bench), size=200, replace=False)
    some = hypervolume(bench.values(["accuracy", "latency"])[sample],
                       ["maximize", "minimize"], reference)
    assert some <= best + 1e-12


def test_a_study_runs_on_the_table_in_seconds(bench, tmp_path):
    start = time.perf_counter()
    study = Study.create(tmp_path / "study.db", space=bench.space, evaluator=bench,
                         strategy="nsga2", strategy_options={"population_size": 10}, seed=0)
    study.optimize(30, progress=False)
    seconds = time.perf_counter() - start
    finished = study.finished()
    assert len(finished) == 30
    for result in finished:
        assert result.metrics == pytest.approx(
            {name: m.value for name, m in bench.lookup(result.config).items()})
    assert study.hypervolume(bench.default_reference()) <= bench.hypervolume_of_front() + 1e-12
    assert seconds < 20


def test_save_and_load_round_trip(bench, tmp_path):
    path = bench.save(tmp_path / "copy.npz")
    copy = TabularBenchmark.load(path)
    assert copy.space == bench.space
    assert copy.metrics == bench.metrics
    np.testing.assert_array_equal(copy.configs, bench.configs)
    np.testing.assert_array_equal(copy.values(copy.metrics), bench.values(bench.metrics))
    assert copy.metadata["dataset"] == bench.metadata["dataset"]

"""The packaged tabular benchmark: complete, consistent, and fast enough to search on."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import HwnasError, InvalidConfigError, UnknownNameError
from hwnas.pareto import hypervolume
from hwnas.space import Categorical, Choice
from hwnas.study import Study
from hwnas.supernets import create_supernet
from hwnas.tabular import BENCHMARKS, TabularBenchmark, load_benchmark

OBJECTIVES = [("accuracy", "maximize"), ("latency", "minimize")]

# what kind of space each packaged table claims to be, checked on its stored space
SUITE = {
    "mnist1d_cnn1d": {"size": 20736, "kind": "ordered, threshold conditions",
                      "latencies": ["latency"]},
    "mnist1d_cells": {"size": 9445, "kind": "categorical",
                      "latencies": ["latency@b1", "latency@b32"]},
    "mnist1d_blocks": {"size": 10000, "kind": "categorical parents",
                       "latencies": ["latency"]},
}


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


def test_a_study_runs_on_the_table(bench, tmp_path):
    study = Study.create(tmp_path / "study.db", space=bench.space, evaluator=bench,
                         strategy="nsga2", strategy_options={"population_size": 10}, seed=0)
    study.optimize(30, progress=False)
    finished = study.finished()
    assert len(finished) == 30
    for result in finished:
        assert result.metrics == pytest.approx(
            {name: m.value for name, m in bench.lookup(result.config).items()})
    assert study.hypervolume(bench.default_reference()) <= bench.hypervolume_of_front() + 1e-12


def test_save_and_load_round_trip(bench, tmp_path):
    path = bench.save(tmp_path / "copy.npz")
    copy = TabularBenchmark.load(path)
    assert copy.space == bench.space
    assert copy.metrics == bench.metrics
    np.testing.assert_array_equal(copy.configs, bench.configs)
    np.testing.assert_array_equal(copy.values(copy.metrics), bench.values(bench.metrics))
    assert copy.metadata["dataset"] == bench.metadata["dataset"]


# -- the whole suite -------------------------------------------------------------------------
@pytest.fixture(scope="module", params=sorted(BENCHMARKS.names()))
def suite_bench(request) -> tuple[str, TabularBenchmark]:
    return request.param, load_benchmark(request.param)


def test_the_suite_is_registered():
    assert set(BENCHMARKS.names()) == set(SUITE)


def test_each_table_covers_its_space_exactly_once(suite_bench):
    name, bench = suite_bench
    space = bench.space
    assert len(bench) == space.size() == SUITE[name]["size"]
    assert bench.metadata["build"]["complete"]
    ids = [space.arch_id(bench.config(row)) for row in range(len(bench))]
    assert len(set(ids)) == len(bench)
    assert set(ids) == {space.arch_id(c) for c in space.enumerate()}
    np.testing.assert_array_equal(space.canonical_indices(bench.configs), bench.configs)


def test_each_table_has_finite_metrics_and_its_record(suite_bench):
    name, bench = suite_bench
    latencies = SUITE[name]["latencies"]
    assert set(bench.metrics) >= {"accuracy", "test_accuracy", "macs", "params", *latencies}
    assert np.isfinite(bench.values(bench.metrics)).all()
    assert np.isfinite(bench.spreads(bench.metrics)).all()
    accuracy, test_accuracy = bench.values(["accuracy", "test_accuracy"]).T
    assert 0.0 <= accuracy.min() < accuracy.max() <= 1.0
    assert 0.0 <= test_accuracy.min() < test_accuracy.max() <= 1.0
    assert (bench.values(latencies) > 0).all()
    assert (bench.values(["macs", "params"]) > 0).all()
    for metric in latencies:
        assert bench.metadata["metrics"][metric]["unit"] == "ms"
        assert bench.direction(metric) == "minimize"
    for key in ("dataset", "training", "measures", "machine", "build"):
        assert key in bench.metadata


def test_each_tables_space_has_the_kind_it_claims(suite_bench):
    name, bench = suite_bench
    dims = bench.space.dims
    kind = SUITE[name]["kind"]
    if kind == "categorical":
        assert all(isinstance(d, Categorical) and not d.ordered for d in dims)
        assert all(d.active_if is None for d in dims)
    elif kind == "categorical parents":
        parents = {d.active_if[0] for d in dims if d.active_if is not None}
        assert parents and all(isinstance(bench.space[p], Categorical) for p in parents)
        rules = [d.active_if[1] for d in dims if d.active_if is not None]
        assert all(isinstance(rule, frozenset) for rule in rules)
        assert any(len(rule) > 1 for rule in rules)  # a gene shared by two block types
        assert any(isinstance(d, Choice) and d.active_if is not None for d in dims)
    else:
        assert all(isinstance(d, Choice) and d.ordered for d in dims)
        assert any(d.active_if is not None and not isinstance(d.active_if[1], frozenset)
                   for d in dims)


def test_each_tables_tasks_have_a_nontrivial_front(suite_bench):
    """Several sub-networks on every task's front, and the most accurate one alone holds
    well under half of the front's hypervolume against a reference just outside the
    front's nadir (10% of its range): measuring the best network first does not win."""
    name, bench = suite_bench
    for objectives in bench.tasks.values():
        front = bench.pareto_front(objectives)
        assert 5 <= len(front) < len(bench) // 10
        names = [metric for metric, _direction in objectives]
        directions = [direction for _metric, direction in objectives]
        points = bench.values(names)[front]
        low, high = points.min(axis=0), points.max(axis=0)
        reference = [low[i] - 0.1 * (high[i] - low[i]) if d == "maximize"
                     else high[i] + 0.1 * (high[i] - low[i]) for i, d in enumerate(directions)]
        best = points[[np.argmax(points[:, 0])]]
        assert hypervolume(best, directions, reference) < 0.5 * hypervolume(
            points, directions, reference)


def test_the_cells_table_serves_the_three_objective_task():
    bench = load_benchmark("mnist1d_cells")
    objectives = [("accuracy", "maximize"), ("latency@b1", "minimize"),
                  ("latency@b32", "minimize")]
    assert objectives in bench.tasks.values()
    assert bench.default_objectives == objectives[:2]
    front3 = set(bench.pareto_front(objectives).tolist())
    assert set(bench.pareto_front(objectives[:2]).tolist()) <= front3
    assert set(bench.pareto_front(objectives[::2]).tolist()) <= front3
    assert bench.hypervolume_of_front() == bench.hypervolume_of_front(objectives[:2])


def test_the_cells_table_is_one_row_per_network_and_a_search_measures_each_once(tmp_path):
    configs = BENCHMARKS.create("mnist1d_cells", per_network=False)
    bench = load_benchmark("mnist1d_cells")
    assert (len(configs), len(bench)) == (15625, 9445)
    assert configs.space.canonicalize is None
    assert bench.space.to_dict()["canonicalize"] == "hwnas.cell_space:canonical_cell"
    # two configs of one network (edge 0->1 feeds a node no path uses) answer with one row,
    # the network's measurement (which the build gave each of its configs)
    dead = {name: "zero" for name in bench.space.names} | {"edge0_3": "conv3"}
    other = dead | {"edge0_1": "conv5"}
    assert bench.row(dead) == bench.row(other)
    assert bench.lookup(other) == configs.lookup(dead) == configs.lookup(other)
    copy = TabularBenchmark.load(bench.save(tmp_path / "networks.npz"))
    assert copy.space == bench.space and len(copy) == len(bench)
    # a study on the packaged table by name, as a user starts one, and reopened
    study = Study.create(tmp_path / "cells.db", benchmark="mnist1d_cells",
                         objectives=bench.default_objectives,  # (key, direction) pairs
                         metrics=["macs", "params"], strategy="random", seed=0)
    study.optimize(150, progress=False)
    study = Study.load(tmp_path / "cells.db")
    assert study.spec.space == bench.space
    study.optimize(300, progress=False)
    ids = [bench.space.arch_id(r.config) for r in study.finished()]
    assert len(ids) == len(set(ids)) == 300
    assert all(r.metrics["latency@b1"] == bench.lookup(r.config)["latency@b1"].value
               for r in study.finished())


def test_a_table_missing_a_networks_canonical_config_is_refused():
    configs = BENCHMARKS.create("mnist1d_cells", per_network=False)
    assert configs.config(0) == {name: "zero" for name in configs.space.names}  # canonical
    partial = TabularBenchmark(configs.space, configs.configs[1:],
                               {m: configs.values([m])[1:, 0] for m in configs.metrics},
                               {m: configs.spreads([m])[1:, 0] for m in configs.metrics},
                               configs.metadata)
    with pytest.raises(HwnasError, match="9444 of the 9445 networks.*rebuild"):
        partial.networks("hwnas.cell_space:canonical_cell")


def test_inactive_genes_of_a_block_type_do_not_matter():
    bench = load_benchmark("mnist1d_blocks")
    space = bench.space
    config = {**space.smallest(), "s0.type": "skip", "s1.type": "sep"}
    other = {**config, "s0.kernel": 7, "s0.width": space["s0.width"].values[-1],
             "s1.width": space["s1.width"].values[-1]}
    assert bench.lookup(config) == bench.lookup(other)
    assert bench.row(config) == bench.row(other)
    changed = {**config, "s1.expand": space["s1.expand"].values[-1]}
    assert bench.row(changed) != bench.row(config)

"""Constrained studies end to end: cheap figures first, screened proposals booked, the
front of the feasible ones, resume with other constraints refused, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hwnas.constraints import Constraint, parse_constraints
from hwnas.errors import InvalidConfigError, StudyError
from hwnas.evaluation.pipeline import LookupEvaluator, Pipeline
from hwnas.measure import Measure, Measurement, Metric, Objective
from hwnas.pareto import hypervolume
from hwnas.screening import constrained_evaluator
from hwnas.space import Choice, SearchSpace
from hwnas.study import Study
from hwnas.supernets import create_supernet
from hwnas.tabular import BENCHMARKS, load_benchmark
from hwnas.workflow import check_resume

torch.set_num_threads(1)


class _RecordingMeasure(Measure):
    """An "expensive" figure that records every sub-network it is asked to measure."""

    name, unit = "recorded", "calls"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, model, context) -> Measurement:
        self.calls.append(sum(p.numel() for p in model.parameters()))
        return Measurement(float(len(self.calls)))


def test_cheap_measures_first_expensive_not_called_on_violation() -> None:
    net = create_supernet("tiny_elastic_cnn")
    recorder = _RecordingMeasure()
    pipeline = Pipeline(net, [Objective("cost", "minimize", recorder),
                              Metric.named("params"), Metric.named("macs")])
    assert pipeline.cheap_keys == ["params", "macs"] and recorder.cost == "expensive"
    small, large = net.space.smallest(), net.space.largest()
    small_params = pipeline(small)["params"].value
    recorder.calls.clear()
    limits = parse_constraints([f"params<={small_params}"])
    screened = pipeline.measure_under(large, limits)
    assert sorted(screened) == ["params"] and screened["params"].value > small_params
    assert recorder.calls == []  # the expensive measure never ran
    full = pipeline.measure_under(small, limits)
    assert sorted(full) == ["cost", "macs", "params"] and len(recorder.calls) == 1
    assert full["params"].value == small_params
    # a bound on an expensive key alone measures everything
    assert sorted(pipeline.measure_under(large, [Constraint("cost", "<=", 0.0)])) == \
        ["cost", "macs", "params"]
    wrapped = constrained_evaluator(pipeline, limits)
    assert sorted(wrapped(large)) == ["params"] and constrained_evaluator(pipeline, []) is pipeline


def test_lookup_screens_by_its_cheap_columns() -> None:
    bench = load_benchmark("mnist1d_cnn1d")
    lookup = LookupEvaluator(bench.lookup, {"accuracy": "accuracy", "latency": "latency",
                                            "params": "params"})
    assert lookup.cheap_keys == ("params",)
    config = bench.space.largest()
    params = bench.lookup(config)["params"].value
    assert sorted(lookup.measure_under(config, [Constraint("params", "<=", params - 1)])) == \
        ["params"]
    assert len(lookup.measure_under(config, [Constraint("params", "<=", params)])) == 3


def _table_study(constraints, n: int = 40, strategy: str = "nsga2") -> Study:
    study = Study.create(":memory:", benchmark="mnist1d_cnn1d",
                         objectives=["accuracy", "latency"], metrics=["params"],
                         strategy=strategy, strategy_options={"population_size": 10},
                         constraints=constraints, seed=3)
    study.optimize(n, progress=False)
    return study


def test_constrained_study_on_a_table() -> None:
    bench = load_benchmark("mnist1d_cnn1d")
    params_bound = float(np.quantile(bench.values(["params"])[:, 0], 0.3))
    latency_bound = float(np.quantile(bench.values(["latency"])[:, 0], 0.5))
    limits = [f"params<={params_bound}", f"latency<={latency_bound}"]
    study = _table_study(limits)
    results = study.results()
    finished, screened = study.finished(), [r for r in results if r.screened]
    assert len(finished) == 40  # screened proposals do not count toward the budget
    assert screened and all(sorted(r.metrics) == ["params"] for r in screened)
    assert all(r.metrics["params"] > params_bound for r in screened)
    assert all(r.metrics["params"] <= params_bound for r in finished)
    counts = study.infeasible_counts()
    assert counts["screened"] == len(screened)
    assert counts["feasible"] + counts["measured"] == 40
    front = study.pareto_front()
    assert front and all(r.metrics["latency"] <= latency_bound for r in front)
    assert len(study.feasible()) == counts["feasible"]
    frame = study.to_dataframe()
    assert (frame["state"] == "screened").sum() == len(screened)
    assert frame["feasible"].sum() == counts["feasible"]
    trial = study.storage.get_all_trials(study._study_id)[0]
    assert set(trial.user_attrs["constraints"]) == {"feasible", "violation", "screened"}
    assert len(trial.system_attrs["constraints"]) == 2  # Optuna's convention, for dashboards
    # the constraints are stored with the study
    assert study.spec.constraints == tuple(parse_constraints(limits))


def test_constraint_on_a_key_nobody_measures_is_refused() -> None:
    with pytest.raises(InvalidConfigError, match="did you mean 'latency'"):
        Study.create(":memory:", benchmark="mnist1d_cnn1d", objectives=["accuracy", "latency"],
                     metrics=["params"], constraints=["latncy<=1"])
    with pytest.raises(InvalidConfigError, match="no objective or measure"):
        Study.create(":memory:", benchmark="mnist1d_cnn1d", objectives=["accuracy", "latency"],
                     metrics=["params"], constraints=["macs<=1e6"])
    with pytest.raises(InvalidConfigError, match="only <= and >="):
        Study.create(":memory:", benchmark="mnist1d_cnn1d", objectives=["accuracy"],
                     metrics=[], constraints=["accuracy>0.9"])


def test_resume_with_changed_constraints_is_refused(tmp_path) -> None:
    path = tmp_path / "s.db"
    study = Study.create(path, benchmark="mnist1d_cnn1d", objectives=["accuracy", "latency"],
                         metrics=["params"], strategy="random", constraints=["params<=5000"])
    study.optimize(5, progress=False)
    loaded = Study.load(path)
    assert loaded.spec.constraints == (Constraint("params", "<=", 5000.0),)
    check_resume(loaded, constraints=["params <= 5e3"])  # the same bound, written otherwise
    check_resume(loaded)  # not given: not checked
    for changed in (["params<=6000"], [], ["params<=5000", "latency<=1"]):
        with pytest.raises(StudyError, match="created with constraints"):
            check_resume(loaded, constraints=changed)
    loaded.optimize(8, progress=False)  # resumes under the stored constraints
    assert all(r.metrics["params"] <= 5000 for r in loaded.finished())


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwnas.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "250"})


def test_constrained_search_from_the_command_line(tmp_path) -> None:
    study = tmp_path / "s.db"
    common = ["--study", str(study), "--supernet", "tiny_elastic_cnn", "--objectives",
              "macs,model_size", "--metrics", "params",
              "--strategy", "nsga2", "--strategy-option", "population_size=6",
              "--no-progress"]
    first = _cli("search", *common, "--constraint", "params<=300", "--n-evaluations", "8")
    assert first.returncode == 0, first.stdout + first.stderr
    loaded = Study.load(study)
    assert loaded.spec.constraints == (Constraint("params", "<=", 300.0),)
    assert len(loaded.finished()) == 8
    assert all(r.metrics["params"] <= 300 for r in loaded.finished())
    assert any(r.screened for r in loaded.results())
    assert "feasible sub-networks" in first.stdout and "ruled out by a cheap figure" in \
        first.stdout
    refused = _cli("search", *common, "--constraint", "params<=400", "--n-evaluations", "9")
    assert refused.returncode == 1
    lines = [line for line in refused.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "created with constraints" in lines[0], refused.stderr
    bad = _cli("search", "--study", str(tmp_path / "t.db"), "--supernet", "tiny_elastic_cnn",
               "--objectives", "macs", "--constraint", "params<300", "--no-progress")
    assert bad.returncode == 1 and "only <= and >=" in bad.stderr


def test_count_infeasible_counts_screened_proposals() -> None:
    bench = load_benchmark("mnist1d_cnn1d")
    bound = float(np.quantile(bench.values(["params"])[:, 0], 0.3))
    study = Study.create(":memory:", benchmark="mnist1d_cnn1d",
                         objectives=["accuracy", "latency"], metrics=["params"],
                         strategy="random", strategy_options={"batch_size": 5},
                         constraints=[f"params<={bound}"], count_infeasible=True, seed=1)
    study.optimize(20, progress=False)
    results = study.results()
    assert len(results) == 20 and any(r.screened for r in results)
    assert len(study.finished()) < 20


def _benchmark_module():
    """``benchmarks/constrained_search.py`` as a module (it imports its sibling scripts)."""
    import importlib

    folder = str(Path(__file__).resolve().parents[1] / "benchmarks")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module("constrained_search")
    finally:
        sys.path.remove(folder)


def test_constrained_search_benchmark_smoke(tmp_path) -> None:
    """benchmarks/constrained_search.py end to end on one task, tiny budget: the JSON has the
    issue's shape and its bookkeeping adds up (not how good the search is)."""
    bench_module = _benchmark_module()
    data = bench_module.main(["--seeds", "1", "--budget", "30", "--tasks", "cnn1d",
                              "--levels", "tight,tight_cheap", "--workers", "1",
                              "--out", str(tmp_path)])
    written = json.loads((tmp_path / "constrained_search.json").read_text())
    assert set(written["tasks"]["cnn1d"]) == {"tight", "tight_cheap"}
    for row in written["tasks"]["cnn1d"].values():
        assert set(row) == {"feasible_fraction_of_space", "infeasible_measurement_fraction",
                            "evals_to_99", "evals_to_99_unconstrained_then_filter"}
        assert 0.05 < row["feasible_fraction_of_space"] < 0.15
    runs = data["runs"]
    assert len(runs) == 3  # one unconstrained run scored against both levels, two constrained
    cheap = next(r for r in runs if r["constrained"] == "tight_cheap")
    assert cheap["screened"] > 0 and cheap["levels"]["tight_cheap"]["infeasible_measurements"] == 0
    assert all(r["full_measurements"] <= 30 for r in runs)
    assert written["targets"] and written["problems"]["cnn1d"]["levels"]["tight"]["reference"]


def test_constrained_search_per_network_counts_networks_and_measures_each_once(tmp_path
                                                                              ) -> None:
    """``--per-network`` on the cell task: the levels' quantiles are over its 9,445 networks
    (not its 15,625 configs), and the searchers, given the hooked space, never measure one
    network twice (the same search on the configs measured 20 networks in 60 full
    measurements)."""
    bench_module = _benchmark_module()
    task = bench_module.TASKS["cells"]
    bench = BENCHMARKS.create(task.table, per_network=False)  # the configs, as the script
    rows = bench_module.network_rows(task, bench, per_network=True)
    assert rows.sum() == 9445 and bench_module.network_rows(task, bench, False).all()
    data = bench_module.main(["--seeds", "1", "--budget", "60", "--tasks", "cells",
                              "--levels", "tight", "--workers", "1", "--per-network",
                              "--out", str(tmp_path)])
    problem = json.loads((tmp_path / "constrained_search.json").read_text())["problems"]
    assert problem["cells"]["per_network"] is True
    assert 0.09 < problem["cells"]["levels"]["tight"]["feasible_fraction_of_space"] < 0.11
    assert data["runs"] and all(run["distinct_networks_measured"] == run["full_measurements"]
                                == 60 for run in data["runs"])


def test_the_feasibility_ceiling_is_zero_when_latency_follows_the_architecture() -> None:
    """``model_ceiling``: a model fitted on the whole table misjudges no sub-network when the
    latency is a (log-linear) function of the architecture, and many once the table's
    latency carries noise as large as the cell tables' near their bound."""
    bench_module = _benchmark_module()
    import search_efficiency as se

    space = SearchSpace([Choice(f"d{i}", [1, 2, 3, 4, 5, 6]) for i in range(4)])
    rng = np.random.default_rng(0)
    noise = {}

    def measure(config, noisy=False):
        latency = float(np.exp(0.3 * sum(config.values())))
        if noisy:
            key = tuple(config.values())
            noise.setdefault(key, float(np.exp(rng.normal(0.0, 0.4))))
            latency *= noise[key]
        return [0.9, latency]

    task = se.Task("synthetic", "synthetic", (("accuracy", "maximize"), ("latency", "minimize")),
                   None)
    for noisy, low, high in ((False, 0.0, 0.02), (True, 0.2, 1.0)):
        bench = se.synthetic_benchmark(space, lambda c, noisy=noisy: measure(c, noisy))
        rows = np.ones(len(bench), dtype=bool)
        bound = float(np.quantile(bench.values(["latency"])[:, 0], 0.1))
        predicted = bench_module.whole_table_predictions(task, bench, rows, "latency")
        ceiling = bench_module.model_ceiling(bench, rows, Constraint("latency", "<=", bound),
                                             predicted)
        assert set(ceiling) == {"ridge", "gbt"}
        assert low <= ceiling["ridge"] <= high, (noisy, ceiling)


def test_the_reachable_hypervolume_ceiling_falls_below_one_only_with_a_noisy_latency() -> None:
    """``reachable_hv_ceiling``: when latency follows the architecture, the sub-networks a
    whole-table model deems feasible hold the whole feasible front; when the table's latency
    is noisy, the most accurate feasible members are the luckily-fast ones the model calls
    infeasible, and the ceiling drops."""
    bench_module = _benchmark_module()
    import search_efficiency as se

    space = SearchSpace([Choice(f"d{i}", [1, 2, 3, 4, 5, 6]) for i in range(4)])
    rng = np.random.default_rng(1)
    noise: dict[tuple, float] = {}

    def measure(config, noisy):
        size = sum(config.values())
        latency = float(np.exp(0.3 * size))
        if noisy:
            latency *= noise.setdefault(tuple(config.values()),
                                        float(np.exp(rng.normal(0.0, 0.3))))
        return [0.5 + 0.02 * size + 0.001 * config["d0"], latency]

    task = se.Task("synthetic", "synthetic", (("accuracy", "maximize"), ("latency", "minimize")),
                   None)
    directions = ["maximize", "minimize"]
    reached = {}
    for noisy in (False, True):
        bench = se.synthetic_benchmark(space, lambda c, noisy=noisy: measure(c, noisy))
        rows = np.ones(len(bench), dtype=bool)
        values = bench.values(["accuracy", "latency"])
        constraint = Constraint("latency", "<=",
                                float(np.quantile(values[:, 1], 0.1)))
        feasible = bench_module.feasible_mask(bench, constraint)
        reference = bench_module.feasible_reference(values[feasible], directions, [None, None])
        best = hypervolume(values[feasible], directions, reference)
        predicted = bench_module.whole_table_predictions(task, bench, rows, "latency")
        reached[noisy] = bench_module.reachable_hv_ceiling(
            bench, rows, constraint, predicted, values, directions, reference, best)
        assert set(reached[noisy]) == {"ridge", "gbt"}
    assert max(reached[False].values()) > 0.99, reached
    assert max(reached[True].values()) < 0.95, reached


def test_the_benchmark_writes_its_problems_without_searching(tmp_path) -> None:
    bench_module = _benchmark_module()
    bench_module.main(["--problems-only", "--tasks", "cnn1d", "--out", str(tmp_path)])
    levels = json.loads((tmp_path / "constrained_search_problems.json").read_text()
                        )["problems"]["cnn1d"]["levels"]
    assert set(levels["tight"]["infeasible_share_of_model_deemed_feasible"]) == {"ridge", "gbt"}
    assert levels["tight_cheap"]["infeasible_share_of_model_deemed_feasible"] is None
    assert 0.0 < levels["tight"]["hv_fraction_within_model_deemed_feasible"]["gbt"] <= 1.0
    assert levels["tight_cheap"]["hv_fraction_within_model_deemed_feasible"] is None
    assert not (tmp_path / "constrained_search.json").exists()

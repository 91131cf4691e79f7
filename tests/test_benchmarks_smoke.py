"""Smoke test of benchmarks/search_efficiency.py: every method for a few evaluations on a
small synthetic suite (categorical, mixed-type and conditional dimensions; two and three
objectives); checks the results' shape, the cache and the figures' bookkeeping, not how
good any method is."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hwnas.space import Categorical, Choice, SearchSpace
from hwnas.strategies import STRATEGIES

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def se():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import search_efficiency
        import search_efficiency_report
    finally:
        sys.path.remove(str(BENCHMARKS))
    search_efficiency.report = search_efficiency_report
    return search_efficiency


def tiny_space() -> SearchSpace:
    """1,296 sub-networks: unordered ops (one with mixed-type values), a categorical parent
    and an ordered parent with conditional children."""
    return SearchSpace([
        Categorical("op0", ("conv3", "conv5", "pool", "skip")),
        Categorical("op1", ("conv3", "conv5", "pool", "skip")),
        Categorical("op2", (1, "a", None)),
        Categorical("block", ("plain", "bottleneck")),
        Choice("width", (8, 16, 32)),
        Choice("expand", (2, 4), active_if=("block", {"bottleneck"})),
        Choice("depth", (1, 2)),
        Choice("width2", (8, 16), active_if=("depth", 2)),
    ])


def tiny_objectives(space: SearchSpace, config: dict) -> tuple[float, float, float]:
    """(accuracy, latency at batch 1, latency at batch 32) that trade off."""
    c = space.canonical(config)
    op_gain = {"conv3": 1.0, "conv5": 1.4, "pool": 0.5, "skip": 0.2}
    op_cost = {"conv3": 1.0, "conv5": 1.6, "pool": 0.3, "skip": 0.05}
    expand = c["expand"] if c["block"] == "bottleneck" else 1
    width = c["width"] * expand + (c["width2"] if c["depth"] == 2 else 0)
    capacity = op_gain[c["op0"]] + op_gain[c["op1"]] + {1: 0.3, "a": 0.1, None: 0.0}[c["op2"]]
    accuracy = 1.0 - np.exp(-capacity * np.log(width) / 6.0)
    latency = (op_cost[c["op0"]] + op_cost[c["op1"]]) * width / 10.0 + 0.1 * c["depth"]
    latency32 = latency * (4.0 if c["block"] == "plain" else 2.5) + 0.5 * c["depth"]
    return float(accuracy), float(latency), float(latency32)


@pytest.fixture(scope="module")
def suite(se):
    space = tiny_space()
    bench = se.synthetic_benchmark(
        space, lambda config: tiny_objectives(space, config),
        (("accuracy", "maximize"), ("lat1", "minimize"), ("lat32", "minimize")), "tiny")
    tasks = {
        "tiny2": se.Task("tiny2", "tiny", (("accuracy", "maximize"), ("lat1", "minimize")),
                         None),
        "tiny3": se.Task("tiny3", "tiny", (("accuracy", "maximize"), ("lat1", "minimize"),
                                           ("lat32", "minimize")), (0.0, 10.0, 40.0)),
    }
    references = {name: se.reference_of(task, bench) for name, task in tasks.items()}
    return tasks, {"tiny": bench}, references


BUDGET = 24
CHEAP = {  # every method within the budget, and quick; hwnas strategies declare their own
    **{name: dict(getattr(STRATEGIES.get(name), "test_options", {}))
       for name in ("random", "nsga2", "linas")},
    "dynast-linas": {"population": 8, "generations": 5, "alphas": [1.0], "costs": [1.0, 10.0]},
    "botorch-qlognehvi": {"initial": 16, "batch": 8, "candidates": 50, "mc_samples": 16,
                          "fit_iterations": 5},
}


def methods(se) -> list[str]:
    names = list(se.METHODS)
    if importlib.util.find_spec("botorch") is None:  # a benchmarks-only dependency
        names.remove("botorch-qlognehvi")
    return names


def test_the_suite_runs_every_method_and_writes_the_documented_shape(se, suite, tmp_path):
    tasks, benches, references = suite
    names = methods(se)
    records = se.run_suite(tasks, benches, references, names, seeds=[0], budget=BUDGET,
                           workers=1, cache_dir=tmp_path / "runs", options=CHEAP,
                           progress=False)
    assert sorted((r["task"], r["method"], r["seed"]) for r in records) == sorted(
        (t, m, 0) for t in tasks for m in names)
    for record in records:
        curve = np.array(record["hv_fraction"])
        assert record["evaluations"] == len(curve) == BUDGET, record["method"]
        assert np.all(np.diff(curve) >= 0) and 0 < curve[-1] <= 1 + 1e-9, record["method"]
        assert record["distinct"] == len(set(record["rows"]))
        if record["method"] in ("random", "nsga2", "linas"):  # hwnas never repeats
            assert record["distinct"] == record["evaluations"], record["method"]

    random800 = {name: se.random_search_hv(benches["tiny"], task, references[name],
                                           evaluations=BUDGET, seeds=20)
                 for name, task in tasks.items()}
    settings = {"mode": "full", "budget": BUDGET, "seeds_planned": 2, "methods_planned": names}
    data = se.report.results(tasks, benches, references, random800, records, names, settings,
                             {"gone": "table 'x' is not registered"}, 1.0)
    se.write_json(tmp_path / "out.json", data)
    data = json.loads((tmp_path / "out.json").read_text())
    assert set(data["tasks"]) == set(tasks) and data["worst_task"] in tasks
    assert data["skipped_tasks"] == {"gone": "table 'x' is not registered"}
    for name, entry in data["tasks"].items():
        assert len(entry["reference_point"]) == len(tasks[name].objectives)
        assert 0 < entry["random800_hv_fraction"] <= 1
        assert entry["complete"] is False and entry["incomplete_seeds"] == {
            m: "1/2" for m in names}
        assert set(entry["methods"]) == set(names)
        for method in entry["methods"].values():
            assert method["seeds"] == 1
            assert set(method["hv_fraction"]) == {"25", "50", "100", "200", "400", "800"}
            assert all(v is None for v in method["hv_fraction"].values())  # budget 24 < 25
            for key in ("evals_to_random800", "evals_to_98", "evals_to_99"):
                assert method[key] is None or 1 <= method[key] <= BUDGET
            assert 0 <= method["duplicate_fraction"] < 1
            assert method["strategy_ms_per_proposal"] >= 0
        assert {c["met"] for c in entry["targets"]} <= {True, False, None}
    se.report.plot_curves(data, records, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0

    cached = se.run_suite(tasks, benches, references, ["linas"], seeds=[0], budget=BUDGET,
                          workers=1, cache_dir=tmp_path / "runs", options=CHEAP,
                          progress=False, run=False)
    assert [r["rows"] for r in cached] == [
        r["rows"] for r in records if r["method"] == "linas" and r["seed"] == 0]


def test_the_cache_key_holds_the_code_that_proposes(se, suite, tmp_path):
    tasks, benches, _ = suite
    task, bench = tasks["tiny2"], benches["tiny"]
    linas = se.cache_path(tmp_path, task, bench, "linas", 0, 100)
    assert se.code_fingerprint(se.HWNAS_CODE) in linas.name
    assert se.code_fingerprint(se.BASELINE_CODE) in se.cache_path(
        tmp_path, task, bench, "optuna-tpe", 0, 100).name
    assert se.code_fingerprint(se.HWNAS_CODE) != se.code_fingerprint(se.BASELINE_CODE)


def test_random_search_weights_are_a_distribution_over_the_table(se, suite):
    _, benches, _ = suite
    bench = benches["tiny"]
    weights = se.sampling_weights(bench.space, bench)
    assert weights.sum() == pytest.approx(1.0)
    # a depth-1 plain sub-network stands for 2 (width2) x 2 (expand) uniform draws
    assert weights.max() / weights.min() == pytest.approx(4.0)


def test_random_search_hv_reaches_the_true_front_when_it_sees_the_whole_table(se, suite):
    tasks, benches, references = suite
    bench = benches["tiny"]
    full = se.random_search_hv(bench, tasks["tiny3"], references["tiny3"],
                               evaluations=len(bench), seeds=2)
    assert full == pytest.approx([1.0, 1.0])
    few = se.random_search_hv(bench, tasks["tiny3"], references["tiny3"], evaluations=5,
                              seeds=20)
    assert np.all(few < 1.0)


def test_targets_say_which_methods_are_ahead(se):
    def entry(hv: float, ms: float = 1.0, to800: int | None = 50, to99: int | None = 150):
        return {"seeds": 10, "hv_fraction": {k: hv for k in ("25", "50", "100", "200")},
                "evals_to_random800": to800, "evals_to_random800_per_seed": [to800] * 10,
                "evals_to_99": to99, "strategy_ms_per_proposal": ms}

    checks = se.report.target_checks({"linas": entry(0.95, ms=25.0, to800=None),
                                      "nsga2": entry(0.96), "random": entry(0.90)})
    verdicts = {c["target"]: c["met"] for c in checks}
    assert verdicts["reaches random@800 within 100 evaluations"] is False
    assert verdicts[">= 99% of the true HV within 200 evaluations"] is True
    assert verdicts["ahead of every other method at 100"] is False
    assert "ahead of linas: nsga2" in checks[3]["figures"]
    assert verdicts["strategy time < 20 ms per proposal"] is False


def test_hv_fraction_curve_counts_only_improvements(se):
    points = np.array([[0.5, 5.0], [0.5, 5.0], [0.4, 6.0], [0.9, 9.0]])
    curve = se.hv_fraction_curve(points, ["maximize", "minimize"], reference=[0.0, 10.0],
                                 best=5.0)
    assert curve.tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5 + 0.4 * 1.0 / 5.0])


def test_a_run_claimed_by_a_live_process_is_left_to_it(se, tmp_path):
    import os
    import socket
    import subprocess

    path = tmp_path / "run.json"
    host = socket.gethostname()
    path.with_suffix(".claim").write_text(f"{host} {os.getppid()}")  # alive: our parent
    assert se._claim(path) is False
    dead = subprocess.Popen(["true"])  # a process that has exited
    dead.wait()
    path.with_suffix(".claim").write_text(f"{host} {dead.pid}")
    assert se._claim(path) is True
    assert path.with_suffix(".claim").read_text() == f"{host} {os.getpid()}"
    assert se._claim(tmp_path / "other.json") is True


def test_a_method_whose_package_is_missing_is_refused_before_any_run(se, monkeypatch, capsys,
                                                                     tmp_path):
    """A baseline needing an optional package that is not installed stops the script up
    front with what to install, instead of failing after the other methods' runs."""
    import dataclasses

    needy = dataclasses.replace(se.METHODS["random"], name="needy",
                                requires=("hwnas_no_such_package",))
    monkeypatch.setitem(se.METHODS, "needy", needy)
    with pytest.raises(SystemExit):
        se.main(["--methods", "random,needy", "--tasks", "cnn1d", "--out", str(tmp_path)])
    error = capsys.readouterr().err
    assert "needy needs hwnas_no_such_package" in error and "[bench]" in error
    assert not list(tmp_path.iterdir())

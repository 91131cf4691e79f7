"""Picking the sub-network under budgets, and exporting the pick verified against the
recorded figures."""

from __future__ import annotations

import dataclasses
import json

import pytest
from decision_studies import benchmark_studies, run_cli, trained_study

from hwnas.errors import EvaluationError, InvalidConfigError
from hwnas.pick import bounds, export_result, pick, relative_violation, verify_export
from hwnas.study import Study


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    _, random = benchmark_studies(tmp_path_factory.mktemp("pick"))
    return Study.load(random)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trained_study(tmp_path_factory.mktemp("trained"))


def test_bounds_read_max_min_and_constraints():
    parsed = bounds(["latency@b1=2.0"], ["accuracy=0.95"], ["params<=1e6"])
    assert [c.to_text() for c in parsed] == ["latency@b1<=2", "accuracy>=0.95",
                                             "params<=1000000"]
    for bad in ("latency", "latency=", "=2", "latency<=2"):
        with pytest.raises(InvalidConfigError, match="--max expects KEY=VALUE"):
            bounds([bad])


def test_pick_is_the_best_feasible_by_brute_force(bench):
    finished = bench.finished()
    budget = sorted(r.metrics["latency"] for r in finished)[len(finished) // 2]
    found = pick(bench, bounds([f"latency={budget}"]))
    feasible = [r for r in finished if r.metrics["latency"] <= budget]
    best = max(feasible, key=lambda r: (r.metrics["accuracy"], -r.metrics["latency"],
                                        -r.number))
    assert found.ok and found.chosen.number == best.number
    assert found.n_feasible == len(feasible) and found.n_candidates == len(finished)
    # ranked by latency instead, under an accuracy floor
    floor = sorted(r.metrics["accuracy"] for r in finished)[len(finished) // 2]
    by_latency = pick(bench, bounds(minimum=[f"accuracy={floor}"]), by="latency")
    fastest = min((r for r in finished if r.metrics["accuracy"] >= floor),
                  key=lambda r: (r.metrics["latency"], -r.metrics["accuracy"], r.number))
    assert by_latency.chosen.number == fastest.number


def test_when_none_qualifies_the_closest_is_named(bench):
    constraints = bounds(["latency=0.001"], ["accuracy=0.999"])
    found = pick(bench, constraints)
    assert not found.ok and found.chosen is None
    closest = min(bench.finished(), key=lambda r: relative_violation(constraints, r.metrics))
    assert found.closest.number == closest.number
    assert set(found.violations) == {"latency<=0.001", "accuracy>=0.999"}
    assert found.to_dict()["picked"] is False


def test_unknown_keys_and_objectives_are_refused(bench):
    with pytest.raises(InvalidConfigError, match="did you mean 'latency'"):
        pick(bench, bounds(["latncy=1"]))
    with pytest.raises(InvalidConfigError, match="--by 'macs' is not an objective"):
        pick(bench, by="macs")


def test_cli_pick_prints_the_pick_and_exits_2_when_none(bench, capsys):
    code = run_cli("pick", bench.location, "--max", "latency=1000", "--json")
    shown = json.loads(capsys.readouterr().out)
    best = max(bench.finished(), key=lambda r: (r.metrics["accuracy"], -r.metrics["latency"]))
    assert code == 0 and shown["picked"] and shown["trial"] == best.number
    assert shown["config"] == best.config and "best accuracy" in shown["rule"]
    assert run_cli("pick", bench.location, "--max", "latency=0.0001") == 2
    out = capsys.readouterr().out
    assert "no sub-network meets latency<=0.0001" in out and "the closest is trial" in out


def test_export_pick_writes_a_verified_onnx(trained, tmp_path, capsys):
    study = Study.load(trained)
    budget = max(r.metrics["latency@b1"] for r in study.finished())
    out = tmp_path / "model.onnx"
    code = run_cli("export", str(trained), "--max", f"latency@b1={budget}", "--out", str(out))
    printed = capsys.readouterr().out
    expected = pick(study, bounds([f"latency@b1={budget}"])).chosen
    assert code == 0 and out.is_file(), printed
    assert f"exported trial {expected.number}" in printed
    assert "verified accuracy" in printed and "OK" in printed
    checks = verify_export(study, expected, out)
    assert [c.key for c in checks] == ["accuracy"]
    assert checks[0].measured == pytest.approx(expected.metrics["accuracy"], abs=0.005)


def test_verification_catches_a_file_that_is_not_the_recorded_one(trained, tmp_path):
    study = Study.load(trained)
    result = study.finished()[0]
    wrong = dataclasses.replace(result, metrics={**result.metrics,
                                                 "accuracy": result.metrics["accuracy"] + 0.2})
    with pytest.raises(EvaluationError, match="does not reproduce trial"):
        export_result(study, wrong, tmp_path / "wrong.onnx")
    assert (tmp_path / "wrong.onnx").is_file()  # kept to inspect
    exported = export_result(study, result, tmp_path / "right.pt2")
    assert exported.checks[0].measured == pytest.approx(result.metrics["accuracy"], abs=1e-9)


def test_without_bounds_the_studys_constraints_apply(tmp_path):
    study = Study.create(tmp_path / "c.db", benchmark="mnist1d_cnn1d", strategy="random",
                         constraints=["latency<=0.15"], seed=2)
    study.optimize(15, progress=False)
    found = pick(study)
    assert [c.to_text() for c in found.constraints] == ["latency<=0.15"]
    assert found.ok and found.chosen.metrics["latency"] <= 0.15
    best = max(study.feasible(), key=lambda r: (r.metrics["accuracy"], -r.metrics["latency"]))
    assert found.chosen.number == best.number

"""Failures are a policy: failed trials, consecutive failures, retries, no RUNNING trial
left behind, interrupted creation."""

from __future__ import annotations

import math
import sqlite3

import optuna
import pytest

from hwnas.errors import EvaluationError, StudyError
from hwnas.measure import Measurement
from hwnas.study import Study
from hwnas.testing.strategies import synthetic_objectives, synthetic_space


def good(space):
    def evaluate(config):
        accuracy, cost = synthetic_objectives(space, config)
        return {"accuracy": Measurement(accuracy), "latency": Measurement(cost)}
    return evaluate


def states(path) -> dict[str, int]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall()
    finally:
        connection.close()
    return dict(rows)


@pytest.mark.parametrize("wrong", [0.93, [Measurement(1.0)], None, "accuracy",
                                   {"accuracy": 0.5, "latency": Measurement(1.0)},
                                   {"accuracy": Measurement(math.nan),
                                    "latency": Measurement(1.0)}])
def test_wrong_typed_results_fail_their_trial_and_the_search_goes_on(tmp_path, wrong):
    space = synthetic_space()
    inner = good(space)
    count = {"n": 0}

    def sometimes_wrong(config):
        count["n"] += 1
        return wrong if count["n"] % 3 == 2 else inner(config)

    path = tmp_path / "s.db"
    study = Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=[],
                         strategy="random", evaluator=sometimes_wrong, seed=0)
    study.optimize(8, progress=False)
    assert len(study.finished()) == 8
    failed = [r for r in study.results() if not r.ok]
    assert failed and all(r.error for r in failed)
    assert "RUNNING" not in states(path)


def test_consecutive_failures_stop_with_one_error_and_leave_nothing_running(tmp_path):
    space = synthetic_space()
    inner = good(space)
    count = {"n": 0}

    def breaks_after_three(config):
        count["n"] += 1
        if count["n"] > 3:
            raise OSError("device disconnected")
        return inner(config)

    path = tmp_path / "s.db"
    study = Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=[],
                         strategy="random", evaluator=breaks_after_three, seed=0)
    with pytest.raises(EvaluationError, match="4 evaluations failed in a row.*device "
                                              "disconnected.*--retry-failed"):
        study.optimize(20, progress=False, max_consecutive_failures=4)
    assert count["n"] == 7
    assert states(path) == {"COMPLETE": 3, "FAIL": 4, "WAITING": states(path).get("WAITING", 0)}
    assert "RUNNING" not in states(path)

    # fixed: --retry-failed measures the failed ones again, at their place
    reopened = Study.load(path, evaluator=inner)
    failed_ids = [r.arch_id for r in reopened.results() if not r.ok]
    reopened.optimize(10, progress=False, retry_failed=True)
    finished = {r.arch_id for r in reopened.finished()}
    assert set(failed_ids) <= finished and len(reopened.finished()) == 10
    assert not [r for r in reopened.results() if not r.ok]


def test_an_objective_missing_from_the_first_result_stops_at_once(tmp_path):
    space = synthetic_space()
    calls = {"n": 0}

    def renamed(config):
        calls["n"] += 1
        accuracy, cost = synthetic_objectives(space, config)
        return {"accuracy": Measurement(accuracy), "latency_bs8": Measurement(cost)}

    study = Study.create(tmp_path / "s.db", space=space, objectives=["accuracy", "latency"],
                         metrics=[], strategy="random", evaluator=renamed)
    with pytest.raises(EvaluationError, match="returned no 'latency'.*latency_bs8"):
        study.optimize(50, progress=False)
    assert calls["n"] == 1
    assert "RUNNING" not in states(tmp_path / "s.db")


def test_an_interrupted_creation_is_created_again_by_the_same_call(tmp_path):
    path = tmp_path / "s.db"
    # what a creation killed between Optuna's create_study and the spec leaves behind
    optuna.create_study(storage=f"sqlite:///{path}", study_name="hwnas",
                        directions=["maximize", "minimize"])
    with pytest.raises(StudyError, match="creation of study .* was interrupted.*--overwrite"):
        Study.load(path)
    space = synthetic_space()
    study = Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=[],
                         strategy="random", evaluator=good(space))
    study.optimize(3, progress=False)
    assert len(Study.load(path).finished()) == 3
    with pytest.raises(StudyError, match="already exists"):
        Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=[],
                     evaluator=good(space))

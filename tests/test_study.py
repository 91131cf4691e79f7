from __future__ import annotations

import math

import numpy as np
import pytest

from hwnas.errors import EvaluationError, StudyError
from hwnas.measure import Measurement
from hwnas.study import Study
from hwnas.testing.strategies import synthetic_objectives, synthetic_space


def synthetic_evaluator(space, calls=None):
    def evaluate(config):
        if calls is not None:
            calls.append(space.arch_id(config))
        accuracy, cost = synthetic_objectives(space, config)
        return {"accuracy": Measurement(accuracy), "latency": Measurement(cost, spread=0.1),
                "macs": Measurement(cost * 1000)}
    return evaluate


def make_study(path, strategy="nsga2", calls=None, **options):
    space = synthetic_space()
    return Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=["macs"],
                        strategy=strategy, strategy_options=options or {"population_size": 10},
                        evaluator=synthetic_evaluator(space, calls), seed=3)


def test_optimize_stores_every_evaluation(tmp_path):
    study = make_study(tmp_path / "study.db")
    study.optimize(35, progress=False)
    results = study.results()
    assert len(results) == 35
    assert len({r.arch_id for r in results}) == 35
    frame = study.to_dataframe()
    assert {"accuracy", "latency", "macs", "latency_spread", "datetime_start",
            "datetime_complete"} <= set(frame.columns)
    assert frame["macs"].notna().all()
    assert (frame["latency_spread"] == 0.1).all()


def test_load_and_continue_without_re_evaluating(tmp_path):
    path = tmp_path / "study.db"
    calls: list[str] = []
    make_study(path, calls=calls).optimize(20, progress=False)
    space = synthetic_space()
    reopened = Study.load(path, evaluator=synthetic_evaluator(space, calls))
    reopened.optimize(30, progress=False)
    assert len(calls) == 30 == len(set(calls))
    assert len(reopened.results()) == 30


def test_resumed_study_proposes_what_an_uninterrupted_one_does(tmp_path):
    straight = make_study(tmp_path / "a.db")
    straight.optimize(40, progress=False)
    first = make_study(tmp_path / "b.db")
    first.optimize(25, progress=False)
    resumed = Study.load(tmp_path / "b.db", evaluator=synthetic_evaluator(synthetic_space()))
    resumed.optimize(40, progress=False)
    assert [r.arch_id for r in resumed.results()] == [r.arch_id for r in straight.results()]


def test_interrupted_trial_is_queued_again(tmp_path):
    path = tmp_path / "study.db"
    space = synthetic_space()
    count = {"n": 0}
    inner = synthetic_evaluator(space)

    def interrupting(config):
        count["n"] += 1
        if count["n"] == 7:
            raise KeyboardInterrupt
        return inner(config)

    study = Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=[],
                         strategy="random", evaluator=interrupting, seed=0)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(15, progress=False)
    assert len(study.finished()) == 6
    reopened = Study.load(path, evaluator=inner)
    reopened.optimize(15, progress=False)
    ids = [r.arch_id for r in reopened.results()]
    assert len(ids) == 15 == len(set(ids))


def test_raising_evaluation_fails_its_trial_and_the_search_goes_on(tmp_path):
    path = tmp_path / "study.db"
    space = synthetic_space()
    inner = synthetic_evaluator(space)
    count = {"n": 0}

    def broken(config):
        count["n"] += 1
        if count["n"] == 5:
            raise RuntimeError("sensor unplugged")
        return inner(config)

    study = Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=[],
                         strategy="random", evaluator=broken, seed=0)
    study.optimize(10, progress=False)
    reopened = Study.load(path)
    assert len(reopened.finished()) == 10
    failed = [r for r in reopened.results() if not r.ok]
    assert len(failed) == 1 and "sensor unplugged" in failed[0].error


def test_a_raising_evaluation_outside_catch_stops_at_once(tmp_path):
    space = synthetic_space()

    def broken(config):
        raise RuntimeError("sensor unplugged")

    study = Study.create(tmp_path / "s.db", space=space, objectives=["accuracy", "latency"],
                         metrics=[], strategy="random", evaluator=broken, seed=0)
    with pytest.raises(EvaluationError, match="sensor unplugged.*kept.*--retry-failed"):
        study.optimize(10, progress=False, catch=())
    assert len(Study.load(tmp_path / "s.db").results()) == 1


def test_nan_objective_fails_the_trial_and_search_goes_on(tmp_path):
    space = synthetic_space()
    inner = synthetic_evaluator(space)
    count = {"n": 0}

    def sometimes_nan(config):
        count["n"] += 1
        measured = inner(config)
        if count["n"] % 4 == 0:
            measured["latency"] = Measurement(math.nan)
        return measured

    study = Study.create(tmp_path / "s.db", space=space, objectives=["accuracy", "latency"],
                         metrics=[], strategy="random", evaluator=sometimes_nan, seed=0)
    study.optimize(12, progress=False)
    assert len(study.finished()) == 12
    failed = [r for r in study.results() if not r.ok]
    assert failed and all("nan" in r.error for r in failed)


def test_pareto_front_and_hypervolume_closed_form(tmp_path):
    from hwnas.space import Choice, SearchSpace

    space = SearchSpace([Choice("x", (0, 1, 2, 3))])
    table = {0: (0.5, 1.0), 1: (0.8, 2.0), 2: (0.7, 3.0), 3: (0.9, 4.0)}

    def evaluate(config):
        accuracy, latency = table[config["x"]]
        return {"accuracy": Measurement(accuracy), "latency": Measurement(latency)}

    study = Study.create(tmp_path / "s.db", space=space, objectives=["accuracy", "latency"],
                         metrics=[], strategy="random", evaluator=evaluate,
                         reference_point=[0.0, 5.0])
    study.optimize(4, progress=False)
    assert [r.config["x"] for r in study.pareto_front()] == [0, 1, 3]
    # staircase: (5-1)*0.5 + (5-2)*(0.8-0.5) + (5-4)*(0.9-0.8)
    assert study.hypervolume() == pytest.approx(4 * 0.5 + 3 * 0.3 + 1 * 0.1)
    assert study.hypervolume([0.0, 2.5]) == pytest.approx(1.5 * 0.5 + 0.5 * 0.3)


def test_non_dominated_sorting_agrees_with_brute_force():
    from hwnas.pareto import non_dominated

    rng = np.random.default_rng(0)
    points = rng.random((200, 2))
    brute = [i for i, p in enumerate(points)
             if not any((q[0] >= p[0]) and (q[1] <= p[1]) and (q != p).any() for q in points)]
    assert non_dominated(points, ["maximize", "minimize"]).tolist() == brute


def test_existing_study_is_not_overwritten_by_create(tmp_path):
    make_study(tmp_path / "s.db").optimize(3, progress=False)
    with pytest.raises(StudyError, match="already exists"):
        make_study(tmp_path / "s.db")


def test_load_refuses_files_that_are_not_studies(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("hello")
    with pytest.raises(StudyError, match="not a study"):
        Study.load(text)
    with pytest.raises(StudyError, match="does not exist"):
        Study.load(tmp_path / "missing.db")
    import sqlite3

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StudyError, match="not a study"):
        Study.load(other)
    assert other.stat().st_size > 0


def test_load_without_evaluator_explains_what_to_pass(tmp_path):
    make_study(tmp_path / "s.db").optimize(3, progress=False)
    with pytest.raises(StudyError, match="evaluator="):
        Study.load(tmp_path / "s.db").optimize(5, progress=False)


def test_study_opens_as_an_optuna_study(tmp_path):
    import optuna

    make_study(tmp_path / "s.db").optimize(5, progress=False)
    loaded = optuna.load_study(study_name="hwnas", storage=f"sqlite:///{tmp_path / 's.db'}")
    complete = [t for t in loaded.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 5 and all(len(t.values) == 2 for t in complete)
    assert all("config" in t.user_attrs["proposal"] for t in complete)


def test_warm_start_reuses_results_without_measuring_them(tmp_path):
    calls: list[str] = []
    earlier = make_study(tmp_path / "earlier.db", calls=calls)
    earlier.optimize(20, progress=False)
    calls.clear()
    later = make_study(tmp_path / "later.db", strategy="linas", calls=calls,
                       initial_population=10, batch_size=5)
    assert later.warm_start(tmp_path / "earlier.db") == 20
    later.optimize(30, progress=False)
    assert len(calls) == 10
    assert not set(calls) & {r.arch_id for r in earlier.results()}
    assert len(later.finished()) == 30
    assert later.strategy_log(), "LINAS reports its predictors with each batch"


def test_warm_start_refuses_another_space(tmp_path):
    from hwnas.space import Choice, SearchSpace

    make_study(tmp_path / "a.db").optimize(3, progress=False)
    space = SearchSpace([Choice("x", (1, 2))])
    other = Study.create(tmp_path / "b.db", space=space, objectives=["accuracy", "latency"],
                         metrics=[], strategy="random",
                         evaluator=lambda c: {"accuracy": Measurement(1.0),
                                              "latency": Measurement(1.0)})
    with pytest.raises(StudyError, match="search space differs"):
        other.warm_start(tmp_path / "a.db")


def test_in_memory_study(tmp_path):
    study = make_study(":memory:")
    study.optimize(12, progress=False)
    assert len(study.finished()) == 12


def test_a_spent_space_ends_the_search_with_a_warning():
    from hwnas.space import Choice, SearchSpace

    space = SearchSpace([Choice("x", (1, 2, 3))])
    study = Study.create(":memory:", space=space, objectives=["accuracy", "latency"],
                         metrics=[], strategy="nsga2",
                         evaluator=lambda c: {"accuracy": Measurement(c["x"]),
                                              "latency": Measurement(c["x"] ** 2)})
    with pytest.warns(UserWarning, match="spent"):
        study.optimize(10, progress=False)
    assert len(study.finished()) == 3


def test_custom_strategy_object_must_be_passed_again_on_load(tmp_path):
    from hwnas.strategies import RandomSearch

    space = synthetic_space()
    study = Study.create(tmp_path / "s.db", space=space, objectives=["accuracy", "latency"],
                         metrics=["macs"], strategy=RandomSearch(batch_size=4),
                         evaluator=synthetic_evaluator(space))
    study.optimize(4, progress=False)
    reopened = Study.load(tmp_path / "s.db", evaluator=synthetic_evaluator(space))
    with pytest.raises(StudyError, match="strategy="):
        reopened.optimize(8, progress=False)
    Study.load(tmp_path / "s.db", evaluator=synthetic_evaluator(space),
               strategy=RandomSearch(batch_size=4)).optimize(8, progress=False)


def test_genes_are_optuna_parameters_and_objectives_are_named(tmp_path):
    """optuna-dashboard's slice, parallel-coordinate and importance plots read parameters:
    every active gene is one (its distribution over the gene's values), an inactive
    conditional gene is absent, and the objectives carry their keys as metric names."""
    import optuna
    from optuna.distributions import IntDistribution

    study = make_study(tmp_path / "s.db")
    study.optimize(16, progress=False)
    loaded = optuna.load_study(study_name="hwnas", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert loaded.metric_names == ["accuracy", "latency"]
    space = study.spec.space
    trials = loaded.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 16
    for trial in trials:
        config = trial.user_attrs["proposal"]["config"]
        active = {d.name for d in space.dims if space.is_active(d, config)}
        assert set(trial.params) == active
        assert all(trial.params[name] == config[name] for name in active)
    assert any(len(t.params) < len(space.dims) for t in trials), "no conditional gene seen"
    assert trials[0].distributions["s0.depth"] == IntDistribution(1, 3)
    importances = optuna.importance.get_param_importances(
        loaded, target=lambda t: t.values[1],
        evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    assert importances and set(importances) <= {d.name for d in space.dims}


def test_ask_and_tell_by_hand_share_the_study_with_optimize(tmp_path):
    """A loop of one's own over the public ask/tell, then optimize on, reach one total."""
    study = make_study(tmp_path / "s.db")
    evaluate = study.evaluator()
    for _ in range(5):
        proposal = study.ask(5)
        study.tell(proposal, evaluate(proposal.config))
    assert study.ask(5) is None  # the study holds its total
    study.optimize(9, progress=False)
    finished = study.finished()
    assert len(finished) == 9 and len({r.arch_id for r in finished}) == 9
    failed = study.tell(study.ask(), error=RuntimeError("board unplugged"))
    assert failed.error == "RuntimeError: board unplugged" and not failed.ok


def test_create_with_exist_ok_joins_the_same_study_and_refuses_another(tmp_path):
    path = tmp_path / "s.db"
    first = make_study(path)
    first.optimize(4, progress=False)
    space = synthetic_space()
    joined = Study.create(path, space=space, objectives=["accuracy", "latency"],
                          metrics=["macs"], strategy="nsga2",
                          strategy_options={"population_size": 10},
                          evaluator=synthetic_evaluator(space), seed=3, exist_ok=True)
    assert [r.arch_id for r in joined.finished()] == [r.arch_id for r in first.finished()]
    with pytest.raises(StudyError, match="other settings"):
        Study.create(path, space=space, objectives=["accuracy", "latency"], metrics=["macs"],
                     strategy="nsga2", strategy_options={"population_size": 10},
                     evaluator=synthetic_evaluator(space), seed=4, exist_ok=True)
    assert not list(tmp_path.glob(".*creating*"))

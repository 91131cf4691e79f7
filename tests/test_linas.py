from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import HwnasError, UnknownNameError
from hwnas.pareto import hypervolume
from hwnas.space import Categorical, SearchSpace
from hwnas.strategies import LINAS, create_strategy
from hwnas.testing.strategies import (
    DIRECTIONS,
    check_strategy,
    conformance_spaces,
    run_strategy,
    synthetic_objectives,
    synthetic_space,
)


@pytest.fixture(scope="module")
def problem():
    space = synthetic_space(stages=2)
    table = np.array([synthetic_objectives(space, c) for c in space.enumerate()])
    reference = [table[:, 0].min(), table[:, 1].max()]
    return space, reference, hypervolume(table, DIRECTIONS, reference)


def hv_fraction(results, reference, true_hv):
    return hypervolume([r.values for r in results], DIRECTIONS, reference) / true_hv


def test_linas_finds_the_known_front(problem):
    space, reference, true_hv = problem
    fractions = {name: hv_fraction(run_strategy(lambda n=name: create_strategy(n), 100,
                                                seed=0, space=space), reference, true_hv)
                 for name in ("random", "linas")}
    assert fractions["linas"] >= 0.995
    assert fractions["linas"] > fractions["random"]


def test_linas_records_predictor_quality(problem):
    space, _, _ = problem
    strategy = LINAS(initial_population=10, batch_size=5)
    strategy.bind(space, DIRECTIONS, 0)
    results = run_strategy(lambda: strategy, 30, space=space)
    assert len(results) == 30
    info = strategy.ask_info
    assert info["n_training"] >= 20 and len(info["predictors"]) == 2
    assert all(-1.0 <= q["kendall_tau"] <= 1.0 for q in info["previous_batch"])


def test_fixed_predictor_and_bad_options():
    assert create_strategy("linas", {"predictor": "ridge"}).predictor == "ridge"
    with pytest.raises(UnknownNameError, match="ridge"):
        LINAS(predictor="ridgee")
    with pytest.raises(HwnasError, match="batch_sise"):
        create_strategy("linas", {"batch_sise": 3})


def _cells(n_edges: int = 6) -> SearchSpace:
    return SearchSpace([Categorical(f"edge{i}", ("zero", "skip", "conv3", "conv5", "pool"))
                        for i in range(n_edges)])


def _noise(space, config) -> float:
    return int(space.arch_id(config)[:8], 16) / 0xFFFFFFFF


def _cell_objectives(space, config, noise: float):
    """(quality, cost) of a cell: additive unordered op effects, plus id noise on quality."""
    effect = {"zero": 0.0, "skip": 0.2, "conv3": 1.0, "conv5": 1.4, "pool": 0.3}
    cost = {"zero": 0.0, "skip": 0.1, "conv3": 1.0, "conv5": 2.0, "pool": 0.4}
    quality = sum(effect[v] * (1 + 0.2 * i) for i, v in enumerate(config.values()))
    return (float((1 - noise) * quality / 10 + noise * _noise(space, config)),
            float(sum(cost[v] for v in config.values())))


def _run_logged(space, noise, n, seed=0, **options):
    strategy = LINAS(**options)
    log = []
    original = strategy._ask

    def ask(n_ask, finished, rng):
        chosen = original(n_ask, finished, rng)
        log.append(dict(strategy.ask_info))
        return chosen

    strategy._ask = ask
    results = run_strategy(lambda: strategy, n, seed=seed, space=space,
                           evaluate=lambda s, c: _cell_objectives(s, c, noise))
    return results, log


def test_linas_hands_the_batch_to_offspring_when_predictors_fail():
    space = _cells()
    _, smooth = _run_logged(space, 0.0, 100)
    _, noisy = _run_logged(space, 1.0, 100)
    late = slice(len(smooth) // 2, None)
    exploit_smooth = np.mean([info["n_exploit"] for info in smooth[late]])
    exploit_noisy = np.mean([info["n_exploit"] for info in noisy[late]])
    assert exploit_smooth >= 7 and exploit_noisy <= 4, (exploit_smooth, exploit_noisy)
    taus = [info["previous_batch"][0]["kendall_tau"] for info in noisy[late]]
    assert np.mean(taus) < 0.3
    assert {e for info in smooth for e in info["encodings"]} == {"typed"}


def test_linas_proposals_are_canonical_and_one_hot_models_rank_unordered_ops():
    space = _cells()
    results, log = _run_logged(space, 0.0, 60)
    assert all(space.canonical(r.config) == r.config for r in results)
    # one-hot features: the quality predictor ranks the next batches well
    assert np.median([info["previous_batch"][0]["kendall_tau"] for info in log[2:]]) > 0.6


@pytest.mark.slow
def test_linas_not_worse_than_nsga2_where_predictors_are_poor():
    space = _cells(7)
    table = np.array([_cell_objectives(space, c, 0.7) for c in space.enumerate()])
    reference = [table[:, 0].min(), table[:, 1].max()]
    true_hv = hypervolume(table, DIRECTIONS, reference)
    fractions = {}
    for name in ("nsga2", "linas"):
        fractions[name] = np.median([
            hv_fraction(run_strategy(lambda n=name: create_strategy(n), 150, seed=seed,
                                     space=space,
                                     evaluate=lambda s, c: _cell_objectives(s, c, 0.7)),
                        reference, true_hv) for seed in range(3)])
    assert fractions["linas"] >= fractions["nsga2"] - 0.005, fractions


@pytest.mark.parametrize("space_name", ["conditional_categorical",
                                        pytest.param("mixed", marks=pytest.mark.slow)])
def test_linas_with_model_selection_resumes_exactly(space_name):
    """The cross-validated model choice, the kept models and the batch split are functions of
    the history: a strategy rebuilt mid-run (past a reselection point) proposes the same."""
    space = conformance_spaces()[space_name]
    check_strategy(lambda: LINAS(initial_population=8, batch_size=4, inner_population=12,
                                 inner_generations=3, encodings=("typed", "onehot")),
                   n_evaluations=40, space=space, n_objectives=2, fail_fraction=0.1)

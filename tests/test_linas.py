from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import HwnasError, UnknownNameError
from hwnas.pareto import hypervolume
from hwnas.strategies import LINAS, create_strategy
from hwnas.testing.strategies import (
    DIRECTIONS,
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

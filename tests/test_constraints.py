"""Constraints: parsing, errors, violation arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwnas.constraints import (
    Constraint,
    check_known_keys,
    is_feasible,
    parse_constraint,
    parse_constraints,
    total_violation,
)
from hwnas.errors import HwnasError, InvalidConfigError


@pytest.mark.parametrize(
    "text, expected",
    [
        ("latency@b1<=2.0", Constraint("latency@b1", "<=", 2.0)),
        ("params<=1e6", Constraint("params", "<=", 1_000_000.0)),
        ("accuracy >= 0.95", Constraint("accuracy", ">=", 0.95)),
        ("  macs<=-3.5E-2 ", Constraint("macs", "<=", -0.035)),
        ("model_size_mb>=+4", Constraint("model_size_mb", ">=", 4.0)),
    ],
)
def test_parse(text: str, expected: Constraint) -> None:
    assert parse_constraint(text) == expected
    assert parse_constraint(expected.to_text()) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("latency<2", "only <= and >="),
        ("latency=2", "only <= and >="),
        ("latency==2", "only <= and >="),
        ("latency=>2", "only <= and >="),
        ("latency!=2", "only <= and >="),
        ("latency<=two", "not a number"),
        ("latency<=nan", "NaN"),
        ("latency 2", "cannot read"),
        ("<=2", "cannot read"),
        ("latency<=", "cannot read"),
    ],
)
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidConfigError) as error:
        parse_constraint(text)
    assert fragment in str(error.value)
    assert isinstance(error.value, HwnasError)


def test_constructor_checks() -> None:
    with pytest.raises(InvalidConfigError, match="operator"):
        Constraint("latency", "<", 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="not a number"):
        Constraint("latency", "<=", "fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="empty"):
        Constraint(" ", "<=", 1.0)
    assert Constraint("a", "<=", 1).bound == 1.0
    assert Constraint.from_dict(Constraint("a", ">=", 3).to_dict()) == Constraint("a", ">=", 3)


def test_violation() -> None:
    upper = Constraint("latency", "<=", 2.0)
    lower = Constraint("accuracy", ">=", 0.9)
    assert upper.violation(1.0) == 0.0 and upper.violation(2.0) == 0.0
    assert upper.violation(2.5) == pytest.approx(0.5)
    assert lower.violation(0.95) == 0.0 and lower.violation(0.9) == 0.0
    assert lower.violation(0.5) == pytest.approx(0.4)
    for missing in (None, math.nan):
        assert upper.violation(missing) == math.inf
        assert not upper.satisfied(missing)
    assert upper.satisfied(-math.inf) and not lower.satisfied(-math.inf)


def test_total_violation_and_feasible() -> None:
    constraints = parse_constraints(["latency<=2", "accuracy>=0.9"])
    assert total_violation(constraints, {"latency": 3.0, "accuracy": 0.8}) == pytest.approx(1.1)
    assert total_violation(constraints, {"latency": 1.0, "accuracy": 0.95}) == 0.0
    assert total_violation(constraints, {"latency": 1.0}) == math.inf
    assert is_feasible(constraints, {"latency": 1.0, "accuracy": 0.95})
    assert is_feasible([], {})
    assert total_violation([], {"latency": 9.0}) == 0.0


def test_parse_constraints_duplicates() -> None:
    assert parse_constraints(None) == []
    assert parse_constraints(["a<=1", "a<=1"]) == [Constraint("a", "<=", 1.0)]
    assert len(parse_constraints(["a<=1", "a>=0"])) == 2  # a range is two bounds
    with pytest.raises(InvalidConfigError, match="same key"):
        parse_constraints(["a<=1", "a<=2"])


def test_unknown_key_refused() -> None:
    constraints = parse_constraints(["latncy@b1<=2"])
    with pytest.raises(InvalidConfigError, match="did you mean 'latency@b1'"):
        check_known_keys(constraints, ["accuracy", "latency@b1", "params"])
    check_known_keys(parse_constraints(["params<=5"]), ["accuracy", "params"])


# -- constraint domination -----------------------------------------------------------------------
def _constraint_dominates(fa, fb, va, vb) -> bool:
    """Deb's constraint domination, written out: a feasible point beats an infeasible one,
    of two infeasible ones the smaller violation wins, of two feasible ones Pareto decides."""
    if va <= 0 < vb:
        return True
    if va > 0 and vb > 0:
        return va < vb
    if va > 0:
        return False
    return bool(np.all(fa <= fb) and np.any(fa < fb))


def _brute_force_ranks(F: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Peel non-dominated layers under constraint domination, one O(n^2) pass per layer."""
    rank = np.full(len(F), -1)
    left = set(range(len(F)))
    layer = 0
    while left:
        current = [i for i in left if not any(
            _constraint_dominates(F[j], F[i], violation[j], violation[i]) for j in left if j != i)]
        for i in current:
            rank[i] = layer
        left -= set(current)
        layer += 1
    return rank


@pytest.mark.parametrize("seed", range(8))
def test_constraint_domination_matches_brute_force(seed: int) -> None:
    from hwnas.strategies.predicted_search import rank_and_crowding, rank_order

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 40)), int(rng.integers(1, 4))
    F = rng.integers(0, 6, size=(n, m)).astype(float)  # ties and duplicates on purpose
    violation = np.where(rng.random(n) < 0.5, 0.0, rng.integers(1, 5, size=n) / 2.0)
    if seed == 0:
        violation[:] = 1.0  # nothing feasible
    if seed == 1:
        violation[:] = 0.0  # everything feasible: plain non-dominated sorting
    rank, crowding = rank_and_crowding(F, violation)
    assert rank.tolist() == _brute_force_ranks(F, violation).tolist()
    assert np.all(crowding[violation > 0] == 0.0)
    order = rank_order(F, rng, violation)
    is_infeasible = violation[order] > 0
    assert not np.any(is_infeasible[:-1] & ~is_infeasible[1:])  # no feasible after infeasible
    infeasible = violation[order][is_infeasible]
    assert np.all(np.diff(infeasible) >= 0)  # infeasible by violation


def test_unconstrained_ranks_unchanged() -> None:
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    from hwnas.strategies.predicted_search import rank_and_crowding

    F = np.random.default_rng(3).random((30, 2))
    rank, _ = rank_and_crowding(F)
    for k, front in enumerate(NonDominatedSorting().do(F)):
        assert np.all(rank[front] == k)
    assert rank_and_crowding(F, np.zeros(30))[0].tolist() == rank.tolist()


def test_nsga2_survivors_feasible_first() -> None:
    from hwnas.strategies import NSGA2
    from hwnas.strategies.base import bind_strategy
    from hwnas.testing.strategies import conformance_spaces, run_strategy

    space = conformance_spaces()["ordered"]
    constraints = [Constraint("f0", "<=", 2.0)]

    def evaluate(space, config):
        return (float(sum(space.encode(config))), -float(space.encode(config)[0]))

    results = run_strategy(lambda: NSGA2(population_size=8), 40, space=space,
                           evaluate=evaluate, directions=["minimize", "minimize"],
                           constraints=constraints)
    strategy = bind_strategy(NSGA2(population_size=8), space, ["minimize"] * 2, 0, constraints)
    strategy.tell(results)
    ranked, violations = strategy.ranked()
    parents = strategy.constrained_survivors(ranked, violations, np.random.default_rng(0))
    survivors = [float(f[0]) for f in parents.get("F")]
    n_feasible = int(np.sum(violations == 0))
    assert sum(v <= 2.0 for v in survivors) == min(n_feasible, 8)
    assert n_feasible >= 4  # the search found the feasible corner


def _limit(op: str, bound: float, value: float, errors, log: bool = False):
    from hwnas.strategies.linas import _Constant, _LimitModel

    return _LimitModel(Constraint("latency", op, bound), _Constant(value), log, errors, 0.1)


def test_feasibility_probability_from_the_model_errors() -> None:
    rows = np.zeros((1, 1), dtype=np.int64)
    symmetric = [-0.3, -0.1, 0.1, 0.3]
    assert _limit("<=", 2.0, 2.0, symmetric).feasibility(rows)[0] == pytest.approx(0.5)
    assert _limit("<=", 2.0, 1.0, symmetric).feasibility(rows)[0] > 0.999
    assert _limit("<=", 2.0, 3.0, symmetric).feasibility(rows)[0] < 0.001
    # errors towards infeasibility (the model has lately underestimated) lower it
    assert _limit("<=", 2.0, 1.9, [0.2] * 4).feasibility(rows)[0] < \
        _limit("<=", 2.0, 1.9, [-0.2] * 4).feasibility(rows)[0]
    # ">=" mirrors "<="; a log model compares with the log of the bound
    for value in (1.6, 1.9, 2.2):
        assert _limit(">=", 2.0, 4.0 - value, symmetric).feasibility(rows)[0] == \
            pytest.approx(_limit("<=", 2.0, value, symmetric).feasibility(rows)[0])
    assert _limit("<=", 2.0, math.log(2.0), symmetric, log=True).feasibility(rows)[0] == \
        pytest.approx(0.5)
    assert _limit("<=", 2.0, math.log(2.0), symmetric, log=True).predict(rows)[0] == \
        pytest.approx(2.0)
    # skewed errors: the share of them that keep the row within the bound, smoothed
    errors = np.concatenate([np.linspace(-0.5, -0.4, 30), np.full(10, 3.0)])
    assert _limit("<=", 2.0, 2.0, errors).feasibility(rows)[0] == pytest.approx(0.75, abs=0.06)


def test_probability_needed_follows_the_infeasible_share() -> None:
    from hwnas.results import Result
    from hwnas.strategies import LINAS
    from hwnas.strategies.base import bind_strategy
    from hwnas.strategies.linas import FEASIBLE_PROBABILITY, INFEASIBLE_SHARE
    from hwnas.testing.strategies import conformance_spaces

    space = conformance_spaces()["ordered"]
    rng = np.random.default_rng(0)
    configs = {space.arch_id(c): c for c in (space.sample(rng) for _ in range(300))}

    def strategy_with(n_infeasible: int, n: int = 100, share: float = INFEASIBLE_SHARE) -> LINAS:
        strategy = bind_strategy(LINAS(infeasible_share=share), space,
                                 ["minimize", "minimize"], 0, ["f0<=1"])
        strategy.tell([Result(i, config, arch_id, (0.5, 0.5),
                              {"f0": 2.0 if i < n_infeasible else 0.5, "f1": 0.5})
                       for i, (arch_id, config) in enumerate(list(configs.items())[:n])])
        return strategy

    low, high = FEASIBLE_PROBABILITY
    assert strategy_with(0)._min_feasible(10) == low  # much of the share left
    assert strategy_with(int(INFEASIBLE_SHARE * 110))._min_feasible(10) == high  # spent
    between = strategy_with(int(INFEASIBLE_SHARE * 110) - 1)._min_feasible(10)
    assert low < between < high
    # a user who allows more infeasible measurements gets the low requirement back
    assert strategy_with(int(INFEASIBLE_SHARE * 110), share=0.5)._min_feasible(10) == low
    with pytest.raises(InvalidConfigError, match="infeasible_share"):
        LINAS(infeasible_share=1.0)


def test_linas_proposals_under_a_predicted_constraint_are_mostly_feasible() -> None:
    from hwnas.strategies import LINAS
    from hwnas.testing.strategies import conformance_spaces, run_strategy

    space = conformance_spaces()["ordered"]
    rng = np.random.default_rng(1)

    def cost(config) -> float:
        return float(np.sum(space.encode(config) * np.arange(1, len(space) + 1)))

    def evaluate(space, config):
        return (cost(config), -float(space.encode(config)[0]))

    sample = np.array([cost(space.sample(rng)) for _ in range(500)])
    bound = float(np.quantile(sample, 0.2))
    results = run_strategy(lambda: LINAS(initial_population=8, batch_size=5,
                                         inner_population=16, inner_generations=4,
                                         predictor="ridge"),
                           60, space=space, evaluate=evaluate,
                           directions=["minimize", "minimize"],
                           constraints=[Constraint("f0", "<=", bound)])
    later = [r for r in results[8:] if r.ok]
    infeasible = np.mean([r.values[0] > bound for r in later])
    assert infeasible <= 0.2, f"{infeasible:.0%} of the proposals after the start infeasible"

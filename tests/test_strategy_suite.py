"""The strategy conformance suite (hwnas.testing.strategies) catches broken strategies,
and its synthetic problems are what it says they are."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.space import Categorical, SearchSpace
from hwnas.strategies import STRATEGIES, RandomSearch
from hwnas.strategies.base import HistoryStrategy
from hwnas.testing.strategies import (
    check_spends_space,
    check_strategy,
    conformance_spaces,
    generic_objectives,
    spent_space,
    strategy_test_options,
)


class _Repeats(HistoryStrategy):
    """Proposes the same sub-network again and again."""

    def ask(self, n):
        return [self.space.smallest()] * min(n, 1)


class _GlobalRandom(HistoryStrategy):
    """Ignores the seed: draws from an unseeded generator."""

    batch_size = 4

    def ask(self, n):
        return self.random_unseen(n, np.random.default_rng(), set())


class _OrdersValues(HistoryStrategy):
    """Assumes every dimension is ordered numeric (sorts values, compares with >=)."""

    batch_size = 4

    def ask(self, n):
        rng = self.rng()
        out = []
        for _ in range(n):
            out.append({d.name: sorted(d.values)[rng.integers(len(d.values))]
                        for d in self.space.dims})
        return self.unseen(out, n, set())


class _NeverStops(HistoryStrategy):
    """Keeps proposing measured sub-networks once the space is spent."""

    def ask(self, n):
        fresh = self.random_unseen(n, self.rng(), set())
        return fresh or [self.space.smallest()]


class _StatefulCounter(HistoryStrategy):
    """Keeps a counter outside the history, so a rebuilt strategy proposes differently."""

    batch_size = 3

    def bind(self, space, directions, seed):
        super().bind(space, directions, seed)
        self.calls = 0

    def ask(self, n):
        self.calls += 1
        rng = np.random.default_rng([self.seed, self.calls, len(self.results) % 2])
        return self.random_unseen(n, rng, set())


class _DropsFailures(HistoryStrategy):
    """Forgets failed results, so it proposes a failed sub-network again."""

    batch_size = 4

    def tell(self, results):
        super().tell([r for r in results if r.ok])
        self.seen_ids = {r.arch_id for r in self.results}

    def ask(self, n):
        return self.unseen(list(self.space.enumerate()), n, set())


@pytest.mark.parametrize("broken, message", [
    (_Repeats, "twice"),
    (_GlobalRandom, "same seed"),
    (_StatefulCounter, "rebuilt"),
])
def test_check_strategy_catches(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_strategy(broken, n_evaluations=24)


def test_ordered_assumptions_fail_on_mixed_types():
    mixed = conformance_spaces()["mixed"]
    with pytest.raises(TypeError):  # sorted((1, "a")) — the suite's mixed space exposes it
        check_strategy(_OrdersValues, 24, space=mixed)


def test_failed_results_must_not_be_proposed_again():
    space = conformance_spaces()["categorical"]
    with pytest.raises(AssertionError, match="twice"):
        check_strategy(_DropsFailures, 60, space=space, fail_fraction=0.5)


def test_spent_space_must_end():
    with pytest.raises(AssertionError, match="twice|spent"):
        check_spends_space(_NeverStops)
    check_spends_space(lambda: RandomSearch(batch_size=4))


def test_conformance_spaces_cover_every_kind():
    spaces = conformance_spaces()
    kinds = {name: [type(d).__name__ for d in s.dims] for name, s in spaces.items()}
    assert "Categorical" not in kinds["ordered"]
    assert set(kinds["categorical"]) == {"Categorical"}
    values = [v for d in spaces["mixed"].dims for v in d.values]
    assert {type(v) for v in values} >= {int, str, float, bool, type(None)}
    parents = {name: {s[d.active_if[0]].ordered for d in s.dims if d.active_if}
               for name, s in spaces.items()}
    assert parents["conditional_numeric"] == {True}
    assert parents["conditional_categorical"] == {False}
    assert any(len(d.values) == 1 for d in spaces["single_value"].dims)
    assert spent_space().size() == 6


def test_generic_objectives_are_deterministic_and_fail_by_id():
    space = conformance_spaces()["conditional_categorical"]
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(300)]
    for n in (1, 2, 3):
        values = [generic_objectives(space, c, n) for c in configs]
        assert all(len(v) == n for v in values)
        assert values == [generic_objectives(space, space.canonical(c), n) for c in configs]
    failed = [generic_objectives(space, c, 2, fail_fraction=0.3) is None for c in configs]
    assert 0.15 < np.mean(failed) < 0.45


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_declares_cheap_options(name):
    options = strategy_test_options(name)
    assert isinstance(options, dict) and options, f"{name} declares no test_options"
    STRATEGIES.create(name, **options)  # they are valid constructor arguments


def test_single_value_space_is_spent_after_one():
    space = SearchSpace([Categorical("only", ("x",))])
    check_spends_space(lambda: RandomSearch(batch_size=2), space)

"""Type-aware variation and starting designs: mutation really mutates (about 1/n of the
genes), crossover reaches values neither parent holds, duplicates are canonical, and the
starting design fills the space."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.operators.repair.rounding import RoundingRepair

from hwnas.space import Categorical, Choice, SearchSpace
from hwnas.strategies.design import balanced_design, starting_design
from hwnas.strategies.index_problem import IndexProblem
from hwnas.strategies.nsga2 import typed_mating
from hwnas.strategies.variation import CanonicalDuplicates, crossover_indices, mutate_indices
from hwnas.testing.strategies import conformance_spaces, synthetic_space


def cnn_like_space() -> SearchSpace:
    """The shape of the elastic-CNN space: 3 stages of depth 1-3, width and kernel per block."""
    dims = []
    for stage in range(3):
        dims.append(Choice(f"s{stage}.depth", (1, 2, 3)))
        for block in range(3):
            condition = None if block == 0 else (f"s{stage}.depth", block + 1)
            dims.append(Choice(f"s{stage}.b{block}.width", (16, 24, 32), condition))
            dims.append(Choice(f"s{stage}.b{block}.kernel", (3, 5), condition))
    return SearchSpace(dims)


SPACES = {
    "cnn": cnn_like_space(),
    "cells": SearchSpace([Categorical(f"edge{i}", ("zero", "skip", "conv3", "conv5", "pool"))
                          for i in range(10)]),
    "wide_ordered": SearchSpace([Choice(f"w{i}", tuple(range(0, 64, 4))) for i in range(8)]),
    **{name: space for name, space in conformance_spaces().items() if space.size() > 50},
}


def random_rows(space: SearchSpace, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return space.canonical_indices(np.stack([space.encode(space.sample(rng)) for _ in range(n)]))


def changed_fraction(space: SearchSpace, before: np.ndarray, after: np.ndarray) -> float:
    """Genes that differ once both are canonical (a change to an inactive gene is none)."""
    return float((space.canonical_indices(before) != space.canonical_indices(after)).mean())


@pytest.mark.parametrize("name", sorted(SPACES))
def test_effective_mutation_rate_is_about_one_over_n(name):
    space = SPACES[name]
    rows = random_rows(space, 2000, seed=1)
    rate = changed_fraction(space, rows, mutate_indices(space, rows, np.random.default_rng(2)))
    target = 1.0 / len(space)
    assert target / 2 <= rate <= 2 * target, f"{name}: rate {rate:.4f}, 1/n = {target:.4f}"


@pytest.mark.parametrize("name", ["cnn", "wide_ordered"])
def test_old_operators_barely_mutated(name):
    """The figure the issue reports: PM eta 20 + rounding changes next to no gene, so the
    test above fails on the old operators."""
    space = SPACES[name]
    rows = random_rows(space, 2000, seed=1)
    problem = IndexProblem(space, 1)
    pm = PM(prob=1.0, eta=20, vtype=float, repair=RoundingRepair())
    mutated = pm.do(problem, Population.new("X", rows.astype(float)),
                    random_state=np.random.default_rng(2)).get("X")
    assert changed_fraction(space, rows, np.rint(mutated)) < 0.5 / len(space)


def test_mutation_keeps_rows_in_the_space_and_never_no_ops_a_hit():
    for space in SPACES.values():
        rows = random_rows(space, 500, seed=3)
        mutated = mutate_indices(space, rows, np.random.default_rng(4))
        assert ((mutated >= 0) & (mutated < space.cardinalities)).all()
        assert np.array_equal(mutated, np.rint(mutated))
        # every row with an active non-constant gene changes in at most a few genes
        assert (changed := (space.canonical_indices(mutated) != rows).sum(axis=1)).mean() < 2.5
        assert changed.max() <= len(space)


def test_crossover_creates_values_absent_from_both_parents():
    space = SPACES["wide_ordered"]
    first, second = random_rows(space, 1000, 5), random_rows(space, 1000, 6)
    a, b = crossover_indices(space, first, second, np.random.default_rng(7))
    novel = (a != first) & (a != second)
    assert novel.mean() > 0.05
    # the old SBX with rounding (eta 15) practically never does on adjacent values
    adjacent = np.clip(first + 1, 0, space.cardinalities - 1)
    problem = IndexProblem(space, 1)
    sbx = SBX(prob=1.0, eta=15, vtype=float, repair=RoundingRepair())
    parents = Population.new("X", np.concatenate([first, adjacent]).astype(float))
    pairs = np.stack([np.arange(1000), np.arange(1000, 2000)], axis=1)
    old = sbx.do(problem, parents, pairs, random_state=np.random.default_rng(8)).get("X")
    old = np.rint(old[:1000])
    assert ((old != first) & (old != adjacent)).mean() < 0.002
    new, _ = crossover_indices(space, first, adjacent, np.random.default_rng(8))
    assert ((new != first) & (new != adjacent)).mean() > 0.006


def test_categorical_crossover_is_uniform_and_keeps_parent_values():
    space = SPACES["cells"]
    first, second = random_rows(space, 1000, 9), random_rows(space, 1000, 10)
    a, b = crossover_indices(space, first, second, np.random.default_rng(11))
    assert ((a == first) | (a == second)).all()
    differ = first != second
    assert 0.4 < (a[differ] == second[differ]).mean() < 0.6
    assert np.array_equal(np.sort(np.stack([a, b]), axis=0), np.sort(np.stack([first, second]),
                                                                       axis=0))


def test_offspring_of_a_mating_hold_new_values():
    space = SPACES["cnn"]
    problem = IndexProblem(space, 2)
    rows = random_rows(space, 20, 12)
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

    rng = np.random.default_rng(13)
    parents = RankAndCrowding().do(problem, Population.new("X", rows.astype(float), "F",
                                                           rng.random((20, 2))),
                                   n_survive=20, random_state=rng)
    offspring = typed_mating(space).do(problem, parents, 200, random_state=rng).get("X")
    held = [set(rows[:, column].tolist()) for column in range(len(space))]
    canonical = space.canonical_indices(offspring)
    novel = [int(v) not in held[c] for r in canonical for c, v in enumerate(r)]
    assert np.mean(novel) > 0.0
    keys = {row.tobytes() for row in canonical}
    assert len(keys) == len(canonical), "the mating returned duplicate sub-networks"


def test_canonical_duplicates_mask_inactive_genes():
    space = synthetic_space(stages=1)  # s0.depth, s0.b0..b2.width (b1 from depth 2)
    rows = np.array([[0, 1, 2, 3], [0, 1, 0, 0], [1, 1, 2, 0], [1, 1, 0, 0]], dtype=float)
    population = Population.new("X", rows)
    kept = CanonicalDuplicates(space).do(population).get("X")
    assert kept.tolist() == rows[[0, 2, 3]].tolist()
    against = CanonicalDuplicates(space).do(Population.new("X", rows[2:]), population[:1])
    assert len(against) == 2


@pytest.mark.parametrize("name", sorted(SPACES))
def test_starting_design_balances_every_value(name):
    space = SPACES[name]
    n = 30
    rows = balanced_design(space, n, np.random.default_rng(0))
    active = space.active_matrix(rows)
    for column, dim in enumerate(space.dims):
        counts = np.bincount(rows[active[:, column], column], minlength=len(dim.values))
        assert counts.max() - counts.min() <= 1, (dim.name, counts)


def test_starting_design_ends_only_along_ordered_dims():
    space = SearchSpace([Choice("w", (8, 16, 32)), Categorical("op", ("a", "b", "c")),
                         Choice("k", (3, 5))])
    rows = starting_design(space, 9, np.random.default_rng(1))
    assert rows[0, [0, 2]].tolist() == [2, 1] and rows[1, [0, 2]].tolist() == [0, 0]
    assert len(set(rows[:, 1].tolist())) == 3  # the categorical column is filled, not fixed
    cells = SPACES["cells"]
    rows = starting_design(cells, 10, np.random.default_rng(2))
    assert not (rows == rows[0]).all(axis=1)[1:].any()
    # no ordered dims: no "largest" row of all-first values is forced in
    assert not (rows == 0).all(axis=1).any()

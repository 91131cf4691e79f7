"""NSGA-II on predicted objectives, on plain arrays (LINAS's inner search).

The same algorithm as pymoo's NSGA-II (crowded binary tournament, variation, elitist
rank-and-crowding survival, with pymoo's non-dominated sorting and crowding distance),
written over numpy arrays of value indices: pymoo's ``Population`` of ``Individual``
objects costs about 1 ms a generation, more than scoring the candidates, and LINAS runs
hundreds of generations per search. Variation is type-aware
(:mod:`hwnas.strategies.variation`) and duplicates are canonical (inactive genes masked).

>>> from hwnas.space import Categorical, SearchSpace
>>> space = SearchSpace([Categorical(f"op{i}", ("a", "b", "c")) for i in range(6)])
>>> score = lambda rows: np.column_stack([rows.sum(1), -(rows == 2).sum(1)]).astype(float)
>>> rows, F = evolve(space, score, np.zeros((4, 6)), 20, 15, np.random.default_rng(0))
>>> front = F[rank_and_crowding(F)[0] == 0].tolist()  # both ends of the true front found
>>> [0.0, 0.0] in front and [12.0, -6.0] in front
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from hwnas.space import SearchSpace
from hwnas.strategies.variation import crossover_indices, mutate_indices

Scorer = Callable[[np.ndarray], np.ndarray]
"""Rows of value indices -> (rows, objectives) to minimise."""
Violation = Callable[[np.ndarray], np.ndarray]
"""Rows of value indices -> (rows,) total constraint violation (0 = feasible)."""


def rank_and_crowding(F: np.ndarray, violation: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Non-dominated rank (0 = front) and crowding distance within the rank of each row.

    With ``violation`` (total constraint violation per row, 0 = feasible), ranks follow
    constraint domination (Deb's, as pymoo and Optuna use): every feasible row comes before
    every infeasible one; feasible rows are ranked by non-dominated sorting of ``F``;
    infeasible ones by their violation alone (equal violations share a rank, after the
    last feasible rank), with crowding distance 0. ``F`` of infeasible rows is not read.
    """
    rank = np.empty(len(F), dtype=np.int64)
    crowding = np.zeros(len(F))
    F = np.asarray(F, dtype=float)
    feasible = np.arange(len(F))
    if violation is not None:
        violation = np.asarray(violation, dtype=float)
        feasible = np.flatnonzero(violation <= 0.0)
        infeasible = np.flatnonzero(violation > 0.0)
    fronts = NonDominatedSorting().do(F[feasible]) if len(feasible) else []
    for k, front in enumerate(fronts):
        rows = feasible[front]
        rank[rows] = k
        crowding[rows] = calc_crowding_distance(F[rows])
    if violation is not None and len(infeasible):
        levels = np.unique(violation[infeasible], return_inverse=True)[1].reshape(-1)
        rank[infeasible] = len(fronts) + levels
    return rank, crowding


def rank_order(F: np.ndarray, rng: np.random.Generator,
               violation: np.ndarray | None = None) -> np.ndarray:
    """Row indices by rank, then larger crowding distance, ties broken at random
    (constraint domination with ``violation``: see :func:`rank_and_crowding`)."""
    if len(F) == 0:
        return np.zeros(0, dtype=np.int64)
    rank, crowding = rank_and_crowding(F, violation)
    return np.lexsort((rng.random(len(F)), -crowding, rank))


def evolve(space: SearchSpace, score: Scorer, start: np.ndarray, population: int,
           generations: int, rng: np.random.Generator, crossover_prob: float = 0.9,
           violation: Violation | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run NSGA-II from ``start`` rows; the final population (canonical rows) and scores.
    With ``violation`` (rows -> total predicted constraint violation), selection and
    survival use constraint domination, and the population is ordered by it."""
    rows = _unique(space, space.canonical_indices(start))
    F = score(rows)
    cv = violation(rows) if violation is not None else None
    for _ in range(generations):
        children = breed(space, rows, F, population, rng, crossover_prob, cv)
        children = _unique(space, children, known=rows)[:population]
        if len(children):
            rows = np.concatenate([rows, children])
            F = np.concatenate([F, score(children)])
            if cv is not None:
                cv = np.concatenate([cv, violation(children)])
        survivors = rank_order(F, rng, cv)[:population]
        rows, F = rows[survivors], F[survivors]
        cv = cv[survivors] if cv is not None else None
    return rows, F


def breed(space: SearchSpace, rows: np.ndarray, F: np.ndarray, n: int,
          rng: np.random.Generator, crossover_prob: float = 0.9,
          violation: np.ndarray | None = None) -> np.ndarray:
    """``2 * n`` canonical children of ``rows`` (scored ``F``, minimised): crowded binary
    tournament (constraint domination first, given ``violation`` per row), type-aware
    crossover (probability ``crossover_prob`` per pair), mutation."""
    rank, crowding = rank_and_crowding(F, violation)
    pairs = rng.integers(len(rows), size=(2 * n, 2))
    a, b = pairs[:, 0], pairs[:, 1]
    coin = rng.random(len(pairs)) < 0.5
    a_wins = np.where(rank[a] != rank[b], rank[a] < rank[b],
                      np.where(crowding[a] != crowding[b], crowding[a] > crowding[b], coin))
    parents = rows[np.where(a_wins, a, b)]
    first, second = parents[:n], parents[n:]
    x, y = crossover_indices(space, first, second, rng)
    keep = rng.random(n) >= crossover_prob
    x[keep], y[keep] = first[keep], second[keep]
    return space.canonical_indices(mutate_indices(space, np.concatenate([x, y]), rng))


def _unique(space: SearchSpace, rows: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """``rows`` without repeats (first kept, order kept) and without rows in ``known``."""
    rows = np.asarray(rows, dtype=np.int64)
    seen = set() if known is None else {r.tobytes() for r in np.asarray(known, dtype=np.int64)}
    keep = []
    for i, row in enumerate(rows):
        key = row.tobytes()
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return rows[keep]

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


def rank_and_crowding(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-dominated rank (0 = front) and crowding distance within the rank of each row."""
    rank = np.empty(len(F), dtype=np.int64)
    crowding = np.empty(len(F))
    for k, front in enumerate(NonDominatedSorting().do(F)):
        rank[front] = k
        crowding[front] = calc_crowding_distance(F[front])
    return rank, crowding


def rank_order(F: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices by rank, then larger crowding distance, ties broken at random."""
    if len(F) == 0:
        return np.zeros(0, dtype=np.int64)
    rank, crowding = rank_and_crowding(F)
    return np.lexsort((rng.random(len(F)), -crowding, rank))


def evolve(space: SearchSpace, score: Scorer, start: np.ndarray, population: int,
           generations: int, rng: np.random.Generator,
           crossover_prob: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Run NSGA-II from ``start`` rows; the final population (canonical rows) and scores."""
    rows = _unique(space, space.canonical_indices(start))
    F = score(rows)
    for _ in range(generations):
        children = breed(space, rows, F, population, rng, crossover_prob)
        children = _unique(space, children, known=rows)[:population]
        if len(children):
            rows = np.concatenate([rows, children])
            F = np.concatenate([F, score(children)])
        survivors = rank_order(F, rng)[:population]
        rows, F = rows[survivors], F[survivors]
    return rows, F


def breed(space: SearchSpace, rows: np.ndarray, F: np.ndarray, n: int,
          rng: np.random.Generator, crossover_prob: float = 0.9) -> np.ndarray:
    """``2 * n`` canonical children of ``rows`` (scored ``F``, minimised): crowded binary
    tournament, type-aware crossover (probability ``crossover_prob`` per pair), mutation."""
    rank, crowding = rank_and_crowding(F)
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

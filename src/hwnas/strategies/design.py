"""Starting designs: the first sub-networks a strategy measures, chosen to suit the space.

Along ordered dimensions the two ends (largest and smallest sub-network) are each
objective's likely extreme, which uniform sampling practically never draws; categorical
dimensions have no ends. The rest is space-filling: every value of every dimension about
equally often (a gene that a condition switches off does not count), and of a few such
balanced designs the one whose closest pair of rows differs in the most genes.

>>> from hwnas.space import Categorical, Choice, SearchSpace
>>> space = SearchSpace([Categorical("op", ("conv", "pool", "skip")), Choice("w", (8, 16))])
>>> rows = balanced_design(space, 6, np.random.default_rng(0))
>>> sorted(np.bincount(rows[:, 0]).tolist()), sorted(np.bincount(rows[:, 1]).tolist())
([2, 2, 2], [3, 3])
>>> starting_design(space, 6, np.random.default_rng(0))[:2, 1].tolist()  # w's two ends first
[1, 0]
"""

from __future__ import annotations

import numpy as np

from hwnas.space import SearchSpace

CANDIDATE_DESIGNS = 8
"""Balanced designs drawn; the most spread out (maximin Hamming distance) is kept."""


def balanced_design(space: SearchSpace, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of value indices; in each column every value appears ``n / k`` times
    (rounded), counted over the rows where the gene is active."""
    rows = np.zeros((n, len(space)), dtype=np.int64)
    cardinality = space.cardinalities
    unconditional = [i for i, d in enumerate(space.dims) if d.active_if is None]
    for column in unconditional:
        rows[:, column] = _balanced(int(cardinality[column]), n, rng)
    active = space.active_matrix(rows)
    for column in (i for i, d in enumerate(space.dims) if d.active_if is not None):
        where = np.flatnonzero(active[:, column])
        rows[where, column] = _balanced(int(cardinality[column]), len(where), rng)
    return rows


def starting_design(space: SearchSpace, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` canonical rows: the largest and smallest sub-network along the ordered
    dimensions first (if the space has any), then a maximin balanced design."""
    if n <= 0:
        return np.zeros((0, len(space)), dtype=np.int64)
    candidates = [balanced_design(space, n, rng) for _ in range(CANDIDATE_DESIGNS)]
    design = max(candidates, key=lambda rows: _closest_pair(space, rows))
    ordered = np.flatnonzero(space.ordered & (space.cardinalities > 1))
    if len(ordered):
        ends = design[:2].copy()
        ends[0, ordered] = space.cardinalities[ordered] - 1
        ends[1, ordered] = 0
        design = np.concatenate([ends, design])[:n] if n > 1 else ends[:1]
    return space.canonical_indices(design)


def _balanced(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` values in ``0..k-1``, each ``n // k`` or ``n // k + 1`` times, in random order."""
    return rng.permutation(np.resize(rng.permutation(k), n))


def _closest_pair(space: SearchSpace, rows: np.ndarray) -> tuple[int, int]:
    """(fewest differing genes between two rows, minus the number of such pairs)."""
    canonical = space.canonical_indices(rows)
    distance = (canonical[:, None, :] != canonical[None, :, :]).sum(axis=2)
    upper = distance[np.triu_indices(len(rows), k=1)]
    if not len(upper):
        return (0, 0)
    closest = int(upper.min())
    return (closest, -int((upper == closest).sum()))

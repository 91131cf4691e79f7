"""Starting designs: the first sub-networks a strategy measures, chosen to suit the space.

Along ordered dimensions the two ends (largest and smallest sub-network) are each
objective's likely extreme, which uniform sampling practically never draws; categorical
dimensions have no ends. The rest is space-filling: every value of every dimension about
equally often (a gene that a condition switches off does not count), and of a few such
balanced designs the one whose closest pair of rows differs in the most genes.

With groups, the two ends are crossed with each group's pure rows (:func:`corners`: for
a quantization policy, the largest and the smallest network each all-INT8 and all-fp32).
A *group* of alike dimensions (``group=`` on the dimensions; the per-layer precision genes
of a quantization policy) is drawn row by row instead of gene by gene
(:func:`spread_groups`): each row gets a dominant value and a share of the group's active
genes that take it, the shares spread evenly from "its share of a uniform draw" to "all of
them". Drawn gene by gene, the number of INT8 layers of a row would be binomial (with 11
layers, all-INT8 once in 2,048 rows); spread, every count is about equally common, so the
pure policies, each objective's likely extreme, are in the design.

>>> from hwnas.space import Categorical, Choice, SearchSpace
>>> space = SearchSpace([Categorical("op", ("conv", "pool", "skip")), Choice("w", (8, 16))])
>>> rows = balanced_design(space, 6, np.random.default_rng(0))
>>> sorted(np.bincount(rows[:, 0]).tolist()), sorted(np.bincount(rows[:, 1]).tolist())
([2, 2, 2], [3, 3])
>>> starting_design(space, 6, np.random.default_rng(0))[:2, 1].tolist()  # w's two ends first
[1, 0]
"""

from __future__ import annotations

import itertools

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
    dimensions first (if the space has any; with groups, the :func:`corners`), then a
    maximin balanced design."""
    if n <= 0:
        return np.zeros((0, len(space)), dtype=np.int64)
    candidates = [spread_groups(space, balanced_design(space, n, rng), rng)
                  for _ in range(CANDIDATE_DESIGNS)]
    design = max(candidates, key=lambda rows: _closest_pair(space, rows))
    ends = corners(space, design)
    if len(ends):
        design = np.concatenate([ends, design])[:n]
    return space.canonical_indices(design)


def corners(space: SearchSpace, design: np.ndarray) -> np.ndarray:
    """The largest and smallest sub-network along the ordered dimensions, each crossed with
    every pure row of each group (all its genes at one value; a group's last value first),
    taken from both ends of that list in turn; the other genes from ``design``'s rows.
    Without groups: the largest and the smallest sub-network.

    >>> from hwnas.space import Categorical, Choice, SearchSpace
    >>> space = SearchSpace([Choice("w", (8, 16))]
    ...                     + [Categorical(f"q{i}", ("fp32", "int8"), group="q") for i in range(2)])
    >>> corners(space, np.zeros((4, 3), dtype=np.int64)).tolist()
    [[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 1]]
    """
    ordered = np.flatnonzero(space.ordered & (space.cardinalities > 1))
    cardinality = space.cardinalities
    groups = [columns for columns in space.groups.values() if cardinality[columns[0]] > 1]
    levels: list[list[int | None]] = [[1, 0] if len(ordered) else [None]]
    levels += [list(range(int(cardinality[columns[0]]) - 1, -1, -1)) for columns in groups]
    combinations = list(itertools.product(*levels))
    if len(combinations) < 2 and not len(ordered):
        return np.zeros((0, len(space)), dtype=np.int64)
    order = [combinations[i // 2] if i % 2 == 0 else combinations[-1 - i // 2]
             for i in range(len(combinations))]
    rows = np.array([design[i % len(design)] for i in range(len(order))], dtype=np.int64)
    for row, (end, *pure) in zip(rows, order):
        if end is not None:
            row[ordered] = (cardinality[ordered] - 1) * end
        for columns, value in zip(groups, pure):
            row[columns] = value
    return rows


def spread_groups(space: SearchSpace, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rows`` with the genes of each group (:attr:`SearchSpace.groups`) redrawn: row ``r``
    gets a dominant value (each value in turn) and a level ``t`` (per value, evenly spaced
    from 0 to 1, in random order); ``round(s * m)`` of its ``m`` active group genes, with
    ``s = 1/k + (1 - 1/k) t`` for ``k`` values, take the dominant value, the rest another
    value drawn uniformly. Each gene stays uniform over its values on average.

    >>> from hwnas.space import Categorical, SearchSpace
    >>> space = SearchSpace([Categorical(f"q{i}", ("fp32", "int8"), group="q") for i in range(8)])
    >>> rows = spread_groups(space, np.zeros((18, 8), dtype=np.int64), np.random.default_rng(0))
    >>> sorted(set(rows.sum(axis=1).tolist()))  # INT8 layers per row: every count, 0 to 8
    [0, 1, 2, 3, 4, 5, 6, 7, 8]
    """
    rows = np.array(rows, dtype=np.int64, copy=True)
    n = len(rows)
    if n == 0:
        return rows
    active = space.active_matrix(rows)
    for columns in space.groups.values():
        k = int(space.cardinalities[columns[0]])
        if k < 2:
            continue
        order = rng.permutation(n)
        dominant = np.empty(n, dtype=np.int64)
        level = np.empty(n)
        per_value = -(-n // k)  # rows each value dominates (ceil)
        start = rng.integers(k)
        for position, row in enumerate(order):
            dominant[row] = (start + position) % k
            level[row] = (position // k) / max(per_value - 1, 1)
        for row in range(n):
            genes = [c for c in columns if active[row, c]]
            share = 1.0 / k + (1.0 - 1.0 / k) * level[row]
            count = int(np.floor(share * len(genes) + 0.5))
            picked = rng.permutation(len(genes))
            for rank, column in zip(picked, genes):
                if rank < count:
                    rows[row, column] = dominant[row]
                else:
                    other = rng.integers(k - 1)
                    rows[row, column] = other + (other >= dominant[row])
    return rows


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

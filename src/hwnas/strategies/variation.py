"""Type-aware variation on value-index vectors (pymoo operators), as pymoo's
``MixedVariableMating`` treats mixed variables.

- Ordered dimensions (:class:`~hwnas.space.Choice`): simulated binary crossover on the
  value index, over the cell ``[-0.5, k - 0.5]`` that rounds into the values and with a
  low distribution index (``eta`` 3), so children also land beyond their parents; and
  polynomial-style mutation that always moves to another value, near ones more likely.
- Categorical dimensions: uniform crossover, and mutation to a uniformly drawn other value.
- Each offspring mutates each of its *active*, non-constant genes with probability
  1 / (their number), so one gene changes per offspring on average (an inactive gene
  would change nothing); a gene that a mutation switches on gets a random value.
- :class:`CanonicalDuplicates` removes offspring that are the same sub-network (inactive
  genes masked), vectorised.

>>> import numpy as np
>>> from hwnas.space import Categorical, Choice, SearchSpace
>>> space = SearchSpace([Choice(f"w{i}", (8, 16, 32, 64)) for i in range(10)]
...                     + [Categorical(f"op{i}", ("conv", "pool", "skip")) for i in range(10)])
>>> parents = np.zeros((2000, 20))
>>> children = mutate_indices(space, parents, np.random.default_rng(0))
>>> round(float((children != parents).mean()), 3)  # about 1 / 20
0.05
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.operators.crossover.sbx import cross_sbx

from hwnas.space import SearchSpace

SBX_ETA = 3.0
"""SBX distribution index on value indices: low, so rounding does not undo the spread."""
MUTATION_ETA = 3.0
"""Polynomial-mutation index for the step of an ordered gene (lower = longer jumps)."""


def crossover_indices(space: SearchSpace, first: np.ndarray, second: np.ndarray,
                      rng: np.random.Generator, eta: float = SBX_ETA,
                      prob_var: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Two children per pair of parent rows (value indices): SBX on ordered dimensions,
    uniform crossover on categorical ones; each gene takes part with probability
    ``prob_var``."""
    first = np.asarray(first, dtype=float).reshape(-1, len(space))
    second = np.asarray(second, dtype=float).reshape(-1, len(space))
    a, b = first.copy(), second.copy()
    n = len(first)
    ordered = np.flatnonzero(space.ordered & (space.cardinalities > 1))
    categorical = np.flatnonzero(~space.ordered)
    if len(categorical):
        swap = rng.random((n, len(categorical))) < prob_var
        cols = a[:, categorical], b[:, categorical]
        a[:, categorical] = np.where(swap, cols[1], cols[0])
        b[:, categorical] = np.where(swap, cols[0], cols[1])
    if len(ordered) and n:
        high = space.cardinalities[ordered] - 1.0
        stacked = np.stack([first[:, ordered], second[:, ordered]])
        children = cross_sbx(stacked, np.full(len(ordered), -0.49), high + 0.49,
                             np.full((n, 1), float(eta)), prob_var, np.full((n, 1), 0.5),
                             random_state=rng)
        children = np.clip(np.rint(children), 0.0, high)
        a[:, ordered], b[:, ordered] = children[0], children[1]
    return a, b


def mutate_indices(space: SearchSpace, rows: np.ndarray, rng: np.random.Generator,
                   eta: float = MUTATION_ETA) -> np.ndarray:
    """Rows of value indices, each active non-constant gene changed with probability
    1 / (number of such genes in its row); see the module docstring."""
    rows = np.rint(np.asarray(rows, dtype=float)).reshape(-1, len(space))
    before = space.active_matrix(rows)
    cardinality = space.cardinalities.astype(float)
    mutable = before & (cardinality > 1)
    per_row = 1.0 / np.maximum(mutable.sum(axis=1, keepdims=True), 1)
    hit = mutable & (rng.random(rows.shape) < per_row)
    out = rows.copy()
    ordered = space.ordered
    draws = rng.random(rows.shape)
    # categorical: a uniformly drawn *other* value
    other = np.floor(draws * (cardinality - 1.0))
    other = np.where(other >= rows, other + 1.0, other)
    pick = hit & ~ordered
    out[pick] = other[pick]
    # ordered: a polynomial step (scaled to the index range), rounded, at least one value
    pick = hit & ordered
    if pick.any():
        u = rng.random(int(pick.sum()))
        power = 1.0 / (eta + 1.0)
        delta = np.where(u < 0.5, (2.0 * u) ** power - 1.0, 1.0 - (2.0 * (1.0 - u)) ** power)
        span = cardinality[np.nonzero(pick)[1]] - 1.0
        current = rows[pick]
        step = np.rint(delta * span)
        step = np.where(step == 0, np.where(delta < 0, -1.0, 1.0), step)
        moved = current + step
        # off the end: reflect to the other side of the current value
        moved = np.where((moved < 0) | (moved > span), current - step, moved)
        out[pick] = np.clip(moved, 0.0, span)
    # genes that a mutation switched on start from a random value
    woke = space.active_matrix(out) & ~before
    if woke.any():
        out[woke] = np.floor(rng.random(int(woke.sum())) * cardinality[np.nonzero(woke)[1]])
    return out


class TypedCrossover(Crossover):
    """:func:`crossover_indices` as a pymoo crossover (2 parents, 2 offspring)."""

    def __init__(self, space: SearchSpace, eta: float = SBX_ETA, prob: float = 0.9) -> None:
        super().__init__(2, 2, prob=prob)
        self.space, self.eta = space, eta

    def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: np.random.Generator,
            **kwargs: Any) -> np.ndarray:
        a, b = crossover_indices(self.space, X[0], X[1], random_state, self.eta)
        return np.stack([a, b])


class TypedMutation(Mutation):
    """:func:`mutate_indices` as a pymoo mutation."""

    def __init__(self, space: SearchSpace, eta: float = MUTATION_ETA) -> None:
        super().__init__(prob=1.0)
        self.space, self.eta = space, eta

    def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: np.random.Generator,
            **kwargs: Any) -> np.ndarray:
        return mutate_indices(self.space, X, random_state, self.eta)


class CanonicalDuplicates(DuplicateElimination):
    """Duplicates are rows that are the same sub-network once inactive genes are masked."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space

    def keys(self, X: np.ndarray) -> list[bytes]:
        canonical = self.space.canonical_indices(X).astype(np.int8 if self._small else np.int64)
        return [row.tobytes() for row in canonical]

    @property
    def _small(self) -> bool:
        return int(self.space.cardinalities.max(initial=1)) < 127

    def _do(self, pop: Any, other: Any, is_duplicate: np.ndarray) -> np.ndarray:
        keys = self.keys(pop.get("X"))
        if other is None:
            seen: set[bytes] = set()
            for i, key in enumerate(keys):
                if key in seen:
                    is_duplicate[i] = True
                seen.add(key)
        else:
            known = set(self.keys(other.get("X")))
            is_duplicate |= np.array([key in known for key in keys], dtype=bool)
        return is_duplicate

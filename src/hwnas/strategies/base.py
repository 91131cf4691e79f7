"""The strategy contract (ask/tell), and a base that keeps the told history.

A strategy sees only the results the study tells it; everything that matters is in the
study, so a resumed study (or a second worker) rebuilds a strategy by telling it the
stored results again. Randomness comes from ``rng()``, derived from the seed and the
history length, so the same history gives the same asks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.constraints import Constraint, parse_constraints, total_violation
from hwnas.errors import InvalidConfigError
from hwnas.results import Result
from hwnas.space import Config, SearchSpace
from hwnas.strategies.design import starting_design

ENUMERATE_LIMIT = 100_000
"""Spaces up to this many sub-networks are enumerated once random sampling finds no new one."""


class Strategy(ABC):
    """Proposes sub-networks to measure (``ask``) and learns from measurements (``tell``)."""

    #: how many configs the strategy prefers to propose at once (one generation, say)
    batch_size: int = 1
    #: what the last ``ask`` wants recorded with its batch (e.g. predictor quality)
    ask_info: dict[str, Any]
    #: the study's constraints on measured keys (set by :meth:`constrain`; none by default)
    constraints: tuple[Constraint, ...] = ()

    def bind(self, space: SearchSpace, directions: Sequence[str], seed: int) -> None:
        """Called once by the study before the first ``ask``."""
        self.space, self.directions, self.seed = space, list(directions), seed
        self.ask_info = {}

    def constrain(self, constraints: Sequence[Constraint | str]) -> None:
        """The study's constraints (called after :meth:`bind`, before the first ``tell``).
        A strategy that ignores them still works: the study records infeasible results."""
        self.constraints = tuple(parse_constraints(constraints))

    @abstractmethod
    def ask(self, n: int) -> list[Config]:
        """Up to ``n`` configs not measured before."""

    @abstractmethod
    def tell(self, results: Sequence[Result]) -> None:
        """New results (finished or failed), in the order they were measured."""


class HistoryStrategy(Strategy):
    """Keeps every told result; gives a deterministic generator per ask."""

    def bind(self, space: SearchSpace, directions: Sequence[str], seed: int) -> None:
        super().bind(space, directions, seed)
        self.results: list[Result] = []
        self.seen_ids: set[str] = set()
        self._asks_since_tell = 0
        self._design_cache: tuple[int, list[Config]] | None = None

    def tell(self, results: Sequence[Result]) -> None:
        for result in results:
            self.results.append(result)
            self.seen_ids.add(result.arch_id)
        if results:
            self._asks_since_tell = 0

    @property
    def finished(self) -> list[Result]:
        return [r for r in self.results if r.ok]

    def ranked(self) -> tuple[list[Result], np.ndarray]:
        """The results a constrained search ranks, with their total violation: every
        finished one, and every one stopped after its cheap measures broke a constraint
        (not fully measured, so no objective values; ranked by its violation alone).
        Without constraints: the finished results and zeros."""
        if not self.constraints:
            finished = self.finished
            return finished, np.zeros(len(finished))
        chosen, violations = [], []
        for result in self.results:
            violation = result_violation(self.constraints, result)
            if result.ok or violation > 0.0:
                chosen.append(result)
                violations.append(violation)
        return chosen, np.array(violations, dtype=float)

    def rng(self) -> np.random.Generator:
        """A generator fixed by (seed, history length, asks since the last tell)."""
        self._asks_since_tell += 1
        return np.random.default_rng([self.seed, len(self.results), self._asks_since_tell])

    def unseen(self, candidates: Sequence[Config], n: int, taken: set[str]) -> list[Config]:
        """The first ``n`` candidates whose id is neither measured nor in ``taken``."""
        chosen: list[Config] = []
        if n <= 0:
            return chosen
        for config in candidates:
            arch_id = self.space.arch_id(config)
            if arch_id in self.seen_ids or arch_id in taken:
                continue
            taken.add(arch_id)
            chosen.append(self.space.canonical(config))
            if len(chosen) == n:
                break
        return chosen

    def unseen_rows(self, rows: np.ndarray, n: int, taken: set[str]) -> list[Config]:
        """:meth:`unseen` for rows of value indices (decoding only the chosen ones)."""
        chosen: list[Config] = []
        if n <= 0 or len(rows) == 0:
            return chosen
        canonical = self.space.canonical_indices(rows)
        for arch_id, row in zip(self.space.arch_ids(canonical), canonical):
            if arch_id in self.seen_ids or arch_id in taken:
                continue
            taken.add(arch_id)
            chosen.append(self.space.decode(row))
            if len(chosen) == n:
                break
        return chosen

    def starting_batch(self, n: int, rng: np.random.Generator,
                       size: int | None = None) -> list[Config]:
        """The next ``n`` unmeasured rows of the starting design (:func:`starting_design`,
        ``size`` rows fixed by the seed alone, so a rebuilt strategy continues it), then
        uniform samples; none measured before."""
        size = n if size is None else size
        design = self._design(size)
        skip = max(self._asks_since_tell - 1, 0) * n  # asked again before a tell
        candidates = [c for c in design if self.space.arch_id(c) not in self.seen_ids][skip:]
        taken: set[str] = set()
        chosen = self.unseen(candidates, n, taken)
        return chosen + self.random_unseen(n - len(chosen), rng, taken)

    def _design(self, size: int) -> list[Config]:
        cached = self._design_cache
        if cached is None or cached[0] != size:
            rng = np.random.default_rng([self.seed, 0x5EED, size])
            rows = starting_design(self.space, size, rng)
            self._design_cache = (size, [self.space.decode(r) for r in rows])
        return self._design_cache[1]

    def random_unseen(self, n: int, rng: np.random.Generator, taken: set[str]) -> list[Config]:
        """Up to ``n`` uniformly sampled configs not seen before; when sampling keeps
        hitting measured ones, a small space is enumerated (fewer only if it is spent)."""
        chosen: list[Config] = []
        if n <= 0:
            return chosen
        for _ in range(50):
            batch = [self.space.sample(rng) for _ in range(4 * (n - len(chosen)) + 4)]
            chosen += self.unseen(batch, n - len(chosen), taken)
            if len(chosen) == n:
                return chosen
        if self.space.size() <= ENUMERATE_LIMIT:
            excluded = self.seen_ids | taken
            rest = [c for c in self.space.enumerate() if self.space.arch_id(c) not in excluded]
            order = rng.permutation(len(rest))
            chosen += self.unseen([rest[i] for i in order], n - len(chosen), taken)
        return chosen


def result_violation(constraints: Sequence[Constraint], result: Result) -> float:
    """Total violation of a result's figures: a finished result's over every constraint (a
    key it lacks counts as infinitely violated); an unfinished one's over the keys it has
    (0 if none: a failed evaluation tells nothing)."""
    if result.ok:
        return total_violation(constraints, result.metrics)
    known = [c for c in constraints if c.key in result.metrics]
    return total_violation(known, result.metrics)


def bind_strategy(strategy: Strategy, space: SearchSpace, directions: Sequence[str],
                  seed: int, constraints: Sequence[Constraint | str] = ()) -> Strategy:
    """What a study does before asking: :meth:`Strategy.bind`, then
    :meth:`Strategy.constrain` with the study's constraints (when it has any)."""
    strategy.bind(space, directions, seed)
    if constraints or strategy.constraints:
        strategy.constrain(constraints)
    return strategy


def check_positive(name: str, value: int, minimum: int = 1) -> int:
    if not isinstance(value, int) or value < minimum:
        raise InvalidConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value

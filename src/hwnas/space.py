"""Search spaces of typed elastic dimensions, and the configs that pick one sub-network.

A :class:`Config` is a plain ``dict`` from dimension name to value. A dimension may be
*conditional*: active only while another dimension (a stage's depth, say) reaches a
threshold; an inactive gene does not change the sub-network, so :meth:`SearchSpace.arch_id`
masks it and two configs that differ only there are the same sub-network.

>>> space = SearchSpace([
...     Choice("depth", (1, 2)),
...     Choice("width.0", (8, 16)),
...     Choice("width.1", (8, 16), active_if=("depth", 2)),
... ])
>>> space.size()  # depth 1: 2 widths; depth 2: 2 x 2 widths
6
>>> space.largest()
{'depth': 2, 'width.0': 16, 'width.1': 16}
>>> space.encode({"depth": 2, "width.0": 8, "width.1": 16}).tolist()
[1, 0, 1]
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwnas.errors import InvalidConfigError

Config = dict[str, Any]


@dataclass(frozen=True)
class Choice:
    """A dimension taking one of ``values``, ordered from smallest to largest sub-network.

    ``active_if=(parent, threshold)`` makes it count only while ``config[parent] >= threshold``.
    """

    name: str
    values: tuple[Any, ...]
    active_if: tuple[str, Any] | None = None

    def __post_init__(self) -> None:
        values = tuple(self.values)
        if not values:
            raise InvalidConfigError(f"dimension {self.name!r} has no values")
        if len(set(values)) != len(values):
            raise InvalidConfigError(f"dimension {self.name!r} repeats a value: {values}")
        object.__setattr__(self, "values", values)

    def index(self, value: Any) -> int:
        try:
            return self.values.index(value)
        except ValueError:
            raise InvalidConfigError(
                f"{self.name}={value!r} is outside the search space; "
                f"allowed values: {list(self.values)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values),
                "active_if": list(self.active_if) if self.active_if else None}


def IntRange(  # noqa: N802 - reads as a type at call sites
    name: str, low: int, high: int, step: int = 1, active_if: tuple[str, Any] | None = None
) -> Choice:
    """An integer dimension ``low, low+step, ..., high`` (inclusive)."""
    if step <= 0 or high < low:
        raise InvalidConfigError(f"IntRange {name!r}: need low <= high and step > 0")
    return Choice(name, tuple(range(low, high + 1, step)), active_if)


class SearchSpace:
    """An ordered collection of dimensions."""

    def __init__(self, dims: Sequence[Choice]) -> None:
        self.dims: tuple[Choice, ...] = tuple(dims)
        self._by_name = {d.name: d for d in self.dims}
        if len(self._by_name) != len(self.dims):
            raise InvalidConfigError("search space has two dimensions with the same name")
        for dim in self.dims:
            if dim.active_if is None:
                continue
            parent = self._by_name.get(dim.active_if[0])
            if parent is None:
                raise InvalidConfigError(
                    f"dimension {dim.name!r} depends on unknown dimension {dim.active_if[0]!r}"
                )
            if parent.active_if is not None:
                raise InvalidConfigError(
                    f"dimension {dim.name!r} depends on {parent.name!r}, which is itself "
                    "conditional; only one level of conditions is supported"
                )

    # -- basic facts -----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def __len__(self) -> int:
        return len(self.dims)

    def __getitem__(self, name: str) -> Choice:
        return self._by_name[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchSpace({len(self)} dims, {self.size():,} sub-networks)"

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of values of each dimension, in order."""
        return np.array([len(d.values) for d in self.dims], dtype=np.int64)

    def is_active(self, dim: Choice, config: Config) -> bool:
        if dim.active_if is None:
            return True
        parent, threshold = dim.active_if
        return config[parent] >= threshold

    def _parents(self) -> list[Choice]:
        """Dimensions that some other dimension's activity depends on."""
        names = {d.active_if[0] for d in self.dims if d.active_if is not None}
        return [d for d in self.dims if d.name in names]

    def size(self) -> int:
        """The number of distinct sub-networks (inactive genes do not count)."""
        parents = self._parents()
        free = [d for d in self.dims if d.active_if is None and d not in parents]
        conditional = [d for d in self.dims if d.active_if is not None]
        total = 0
        for values in itertools.product(*(p.values for p in parents)):
            partial = dict(zip([p.name for p in parents], values))
            count = 1
            for dim in conditional:
                if self.is_active(dim, partial):
                    count *= len(dim.values)
            total += count
        for dim in free:
            total *= len(dim.values)
        return total

    # -- validation and canonical form ---------------------------------------------------
    def validate(self, config: Config) -> Config:
        """Return ``config`` if it fits the space, else raise naming the offending entry."""
        if not isinstance(config, dict):
            raise InvalidConfigError(f"a config must be a dict, got {type(config).__name__}")
        unknown = sorted(set(config) - set(self._by_name))
        if unknown:
            raise InvalidConfigError(
                f"unknown dimension(s) {unknown}; this space has: {self.names}"
            )
        missing = [n for n in self.names if n not in config]
        if missing:
            raise InvalidConfigError(f"config is missing dimension(s) {missing}")
        for dim in self.dims:
            dim.index(config[dim.name])
        return config

    def canonical(self, config: Config) -> Config:
        """The same sub-network with every inactive gene set to its dimension's first value."""
        self.validate(config)
        return {d.name: (config[d.name] if self.is_active(d, config) else d.values[0])
                for d in self.dims}

    def arch_id(self, config: Config) -> str:
        """A short stable id of the sub-network (inactive genes masked)."""
        encoded = self.encode(self.canonical(config))
        return hashlib.sha1(encoded.astype(np.int64).tobytes()).hexdigest()[:16]

    # -- vectors -----------------------------------------------------------------------
    def encode(self, config: Config) -> np.ndarray:
        """Config -> vector of value indices (int64), in dimension order."""
        self.validate(config)
        return np.array([d.index(config[d.name]) for d in self.dims], dtype=np.int64)

    def decode(self, vector: Sequence[int] | np.ndarray) -> Config:
        """Vector of value indices -> config; the inverse of :meth:`encode`."""
        vector = np.asarray(vector)
        if vector.shape != (len(self.dims),):
            raise InvalidConfigError(
                f"expected a vector of {len(self.dims)} indices, got shape {vector.shape}"
            )
        config = {}
        for dim, raw in zip(self.dims, vector):
            index = int(round(float(raw)))
            if not 0 <= index < len(dim.values):
                raise InvalidConfigError(
                    f"index {raw} for {dim.name!r} is outside 0..{len(dim.values) - 1}"
                )
            config[dim.name] = dim.values[index]
        return config

    def features(self, configs: Sequence[Config]) -> np.ndarray:
        """A float matrix for predictors, one row per config: each active gene's value
        (numeric dimensions) or value index (others); inactive genes are 0."""
        if not configs:
            return np.zeros((0, len(self.dims)))
        return self.features_from_indices(np.stack([self.encode(c) for c in configs]))

    def features_from_indices(self, indices: np.ndarray) -> np.ndarray:
        """:meth:`features` for a matrix of value indices (rows from :meth:`encode`),
        vectorised, for inner searches that score thousands of candidates."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1, len(self.dims))
        out = np.empty(indices.shape, dtype=np.float64)
        for column, table in enumerate(self._feature_values):
            out[:, column] = table[indices[:, column]]
        for column, parent_column, parent_values, threshold in self._conditions:
            out[parent_values[indices[:, parent_column]] < threshold, column] = 0.0
        return out

    @functools.cached_property
    def _feature_values(self) -> list[np.ndarray]:
        """Per dimension: the feature of each value index."""
        return [np.array(d.values, dtype=np.float64) if _is_number(d.values[0])
                else np.arange(len(d.values), dtype=np.float64) for d in self.dims]

    @functools.cached_property
    def _conditions(self) -> list[tuple[int, int, np.ndarray, Any]]:
        """Per conditional dimension: its column, its parent's column, the parent's values
        and the threshold they must reach."""
        columns = {name: i for i, name in enumerate(self.names)}
        return [(columns[d.name], columns[d.active_if[0]],
                 np.array(self[d.active_if[0]].values), d.active_if[1])
                for d in self.dims if d.active_if is not None]

    # -- sampling and variation -----------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Config:
        """A config drawn uniformly per dimension."""
        return {d.name: d.values[rng.integers(len(d.values))] for d in self.dims}

    def mutate(self, config: Config, rng: np.random.Generator, rate: float | None = None) -> Config:
        """Each gene changes to a different value with probability ``rate`` (default 1/n)."""
        rate = 1.0 / len(self.dims) if rate is None else rate
        child = dict(self.validate(config))
        for dim in self.dims:
            if len(dim.values) > 1 and rng.random() < rate:
                others = [v for v in dim.values if v != child[dim.name]]
                child[dim.name] = others[rng.integers(len(others))]
        return child

    def crossover(self, first: Config, second: Config, rng: np.random.Generator) -> Config:
        """Uniform crossover: each gene from either parent with equal probability."""
        self.validate(first)
        self.validate(second)
        return {d.name: (first if rng.random() < 0.5 else second)[d.name] for d in self.dims}

    def largest(self) -> Config:
        return {d.name: d.values[-1] for d in self.dims}

    def smallest(self) -> Config:
        return {d.name: d.values[0] for d in self.dims}

    def enumerate(self) -> Iterator[Config]:
        """Every distinct sub-network once, as canonical configs."""
        parents = self._parents()
        for parent_values in itertools.product(*(p.values for p in parents)):
            fixed = dict(zip([p.name for p in parents], parent_values))
            rest = [d for d in self.dims if d.name not in fixed]
            active = [d for d in rest if d.active_if is None or self.is_active(d, fixed)]
            for values in itertools.product(*(d.values for d in active)):
                partial = {**fixed, **dict(zip([d.name for d in active], values))}
                yield {d.name: partial.get(d.name, d.values[0]) for d in self.dims}

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"dims": [d.to_dict() for d in self.dims]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        return cls([Choice(d["name"], tuple(d["values"]),
                           tuple(d["active_if"]) if d.get("active_if") else None)
                    for d in data["dims"]])

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)

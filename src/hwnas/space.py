"""Search spaces of typed elastic dimensions, and the configs that pick one sub-network.

A :class:`Config` is a plain ``dict`` from dimension name to value. Dimensions are typed:

- :class:`Choice` (and :class:`IntRange`, which builds one) is *ordered*: its values run
  from the smallest to the largest sub-network (widths, depths, kernel sizes), so "larger"
  and "neighbouring value" mean something;
- :class:`Categorical` is *unordered*: operation choices such as ``("conv3", "pool",
  "skip")``; values may be any JSON scalars, mixed types allowed (``(1, "a", None)``).

A dimension may be *conditional*: active only while another dimension allows it, either
by a threshold on an ordered numeric parent (``active_if=("depth", 2)``: while
``config["depth"] >= 2``) or by membership (``active_if=("block", {"conv", "mbconv"})``:
while ``config["block"]`` is one of those values; any parent). An inactive gene does not
change the sub-network, so :meth:`SearchSpace.arch_id` masks it and two configs that differ
only there are the same sub-network.

Alike dimensions of one kind may share a *group* (``Categorical(..., group="quant")``, the
per-layer precision genes): nothing changes for sampling, variation or ids; a starting
design spreads each row's share of a value over the group (:mod:`hwnas.strategies.design`).

>>> space = SearchSpace([
...     Choice("depth", (1, 2)),
...     Choice("width.0", (8, 16)),
...     Choice("width.1", (8, 16), active_if=("depth", 2)),
...     Categorical("op", ("conv", "skip")),
...     Choice("kernel", (3, 5), active_if=("op", {"conv"})),
... ])
>>> space.size()  # (depth 1: 2 widths + depth 2: 2 x 2 widths) x (conv: 2 kernels + skip)
18
>>> space.largest()  # the last value along ordered dims; a categorical dim keeps its first
{'depth': 2, 'width.0': 16, 'width.1': 16, 'op': 'conv', 'kernel': 5}
>>> space.encode({"depth": 2, "width.0": 8, "width.1": 16, "op": "skip", "kernel": 5}).tolist()
[1, 0, 1, 1, 1]
>>> space.canonical({"depth": 1, "width.0": 8, "width.1": 16, "op": "skip", "kernel": 5})
{'depth': 1, 'width.0': 8, 'width.1': 8, 'op': 'skip', 'kernel': 3}
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import InvalidConfigError

Config = dict[str, Any]
Condition = tuple[str, Any]
"""``(parent, threshold)`` or ``(parent, frozenset_of_values)``."""


@dataclass(frozen=True)
class _Dimension:
    """What every kind of dimension shares: a name, distinct values, an optional condition."""

    name: str
    values: tuple[Any, ...]
    active_if: Condition | None = None
    group: str | None = None
    """Dimensions of one group are alike switches of one kind (the per-layer precision genes
    of a quantization policy, say): a starting design spreads, row by row, the share of each
    value over the group (:mod:`hwnas.strategies.design`). ``None``: no group."""

    ordered: ClassVar[bool]
    kind: ClassVar[str]

    def __post_init__(self) -> None:
        values = tuple(_plain_scalar(v) for v in self.values)
        if not values:
            raise InvalidConfigError(f"dimension {self.name!r} has no values")
        for value in values:
            if isinstance(value, float) and math.isnan(value):
                raise InvalidConfigError(f"dimension {self.name!r}: NaN is not a valid value")
            try:
                hash(value)
            except TypeError:
                raise InvalidConfigError(
                    f"dimension {self.name!r}: value {value!r} is not hashable; use scalars "
                    "(str, int, float, bool, None)"
                ) from None
        if len(set(values)) != len(values):
            raise InvalidConfigError(
                f"dimension {self.name!r} repeats a value: {values} (note that True == 1 and "
                "1 == 1.0 in Python)"
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "active_if", _condition(self.name, self.active_if))
        if self.group is not None and (not isinstance(self.group, str) or not self.group):
            raise InvalidConfigError(
                f"dimension {self.name!r}: group must be a non-empty string or None, "
                f"got {self.group!r}"
            )

    @functools.cached_property
    def _positions(self) -> dict[Any, int]:
        return {value: i for i, value in enumerate(self.values)}

    @property
    def numeric(self) -> bool:
        """Every value is a number (bools are not)."""
        return all(_is_number(v) for v in self.values)

    def index(self, value: Any) -> int:
        try:
            return self._positions[value]
        except (KeyError, TypeError):
            raise InvalidConfigError(
                f"{self.name}={value!r} is outside the search space; "
                f"allowed values: {list(self.values)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        condition: dict[str, Any] | None = None
        if self.active_if is not None:
            parent, rule = self.active_if
            condition = ({"parent": parent, "in": sorted(rule, key=_sort_key)}
                         if isinstance(rule, frozenset) else {"parent": parent, "at_least": rule})
        data = {"name": self.name, "type": self.kind, "values": list(self.values),
                "active_if": condition}
        return data if self.group is None else {**data, "group": self.group}


@dataclass(frozen=True)
class Choice(_Dimension):
    """An ordered dimension: ``values`` run from the smallest to the largest sub-network.

    ``active_if=(parent, threshold)`` makes it count only while ``config[parent] >=
    threshold``; ``active_if=(parent, {v1, v2})`` while ``config[parent]`` is one of them.
    """

    ordered: ClassVar[bool] = True
    kind: ClassVar[str] = "choice"


@dataclass(frozen=True)
class Categorical(_Dimension):
    """An unordered dimension (operation choices, say): no value is larger than another.

    Values are JSON scalars (str, int, float, bool, None), mixed types allowed. Search
    operators treat it by identity only (uniform crossover, random-choice mutation) and
    predictors see it one-hot.
    """

    ordered: ClassVar[bool] = False
    kind: ClassVar[str] = "categorical"


Dimension = Choice | Categorical
_KINDS: dict[str, type[_Dimension]] = {"choice": Choice, "categorical": Categorical}


def IntRange(  # noqa: N802 - reads as a type at call sites
    name: str, low: int, high: int, step: int = 1, active_if: Condition | None = None
) -> Choice:
    """An ordered integer dimension ``low, low+step, ..., high`` (inclusive)."""
    if step <= 0 or high < low:
        raise InvalidConfigError(f"IntRange {name!r}: need low <= high and step > 0")
    return Choice(name, tuple(range(low, high + 1, step)), active_if)


class SearchSpace:
    """An ordered collection of dimensions (one level of conditions)."""

    def __init__(self, dims: Sequence[Dimension]) -> None:
        self.dims: tuple[Dimension, ...] = tuple(dims)
        for dim in self.dims:
            if not isinstance(dim, _Dimension):
                raise InvalidConfigError(
                    f"a search space holds Choice / Categorical dimensions, got {dim!r}"
                )
        self._by_name = {d.name: d for d in self.dims}
        if len(self._by_name) != len(self.dims):
            raise InvalidConfigError("search space has two dimensions with the same name")
        for dim in self.dims:
            if dim.active_if is not None:
                self._check_condition(dim)
        self._check_groups()

    def _check_groups(self) -> None:
        """The dimensions of one group take the same values, so a share of a value means
        the same thing in each."""
        first: dict[str, Dimension] = {}
        for dim in self.dims:
            if dim.group is None:
                continue
            other = first.setdefault(dim.group, dim)
            if (other.values, other.ordered) != (dim.values, dim.ordered):
                raise InvalidConfigError(
                    f"dimensions {other.name!r} and {dim.name!r} are both in group "
                    f"{dim.group!r} but differ in kind or values ({list(other.values)} vs "
                    f"{list(dim.values)}); a group holds alike dimensions only"
                )

    @property
    def groups(self) -> dict[str, list[int]]:
        """Column indices of the dimensions of each group, by group name (in order)."""
        columns: dict[str, list[int]] = {}
        for i, dim in enumerate(self.dims):
            if dim.group is not None:
                columns.setdefault(dim.group, []).append(i)
        return columns

    def _check_condition(self, dim: Dimension) -> None:
        parent_name, rule = dim.active_if
        parent = self._by_name.get(parent_name)
        if parent is None:
            raise InvalidConfigError(
                f"dimension {dim.name!r} depends on unknown dimension {parent_name!r}"
            )
        if parent.active_if is not None:
            raise InvalidConfigError(
                f"dimension {dim.name!r} depends on {parent.name!r}, which is itself "
                "conditional; only one level of conditions is supported"
            )
        if isinstance(rule, frozenset):
            unknown = [v for v in rule if v not in parent._positions]
            if unknown:
                raise InvalidConfigError(
                    f"dimension {dim.name!r} is active for {parent.name}={unknown}, which "
                    f"{parent.name!r} cannot take; its values: {list(parent.values)}"
                )
        elif not (parent.ordered and parent.numeric and _is_number(rule)):
            raise InvalidConfigError(
                f"dimension {dim.name!r}: a threshold condition ({parent.name!r}, {rule!r}) "
                "needs an ordered numeric parent and a numeric threshold; for other parents "
                f"name the values instead: active_if=({parent.name!r}, {{value, ...}})"
            )

    # -- basic facts -----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def __len__(self) -> int:
        return len(self.dims)

    def __getitem__(self, name: str) -> Dimension:
        return self._by_name[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"SearchSpace({len(self)} dims, {self.size():,} sub-networks)"

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of values of each dimension, in order."""
        return np.array([len(d.values) for d in self.dims], dtype=np.int64)

    @property
    def ordered(self) -> np.ndarray:
        """Per dimension, in order: whether it is ordered (bool array)."""
        return np.array([d.ordered for d in self.dims], dtype=bool)

    def is_active(self, dim: Dimension, config: Config) -> bool:
        if dim.active_if is None:
            return True
        parent, rule = dim.active_if
        if isinstance(rule, frozenset):
            return config[parent] in rule
        return config[parent] >= rule

    def _parents(self) -> list[Dimension]:
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
        unknown = sorted(set(config) - set(self._by_name), key=str)
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

    def arch_ids(self, indices: np.ndarray) -> list[str]:
        """:meth:`arch_id` of each row of value indices (rows from :meth:`encode`)."""
        canonical = self.canonical_indices(indices)
        return [hashlib.sha1(row.tobytes()).hexdigest()[:16] for row in canonical]

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

    def active_matrix(self, indices: np.ndarray) -> np.ndarray:
        """For rows of value indices (from :meth:`encode`): which genes are active (bool)."""
        indices = self._index_rows(indices)
        active = np.ones(indices.shape, dtype=bool)
        for column, parent_column, table in self._activity_tables:
            active[:, column] = table[indices[:, parent_column]]
        return active

    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        """Rows of value indices with every inactive gene set to 0 (its first value), so
        equal rows are the same sub-network (vectorised :meth:`canonical`)."""
        indices = self._index_rows(indices).copy()
        if self._activity_tables:
            indices[~self.active_matrix(indices)] = 0
        return indices

    def features(self, configs: Sequence[Config]) -> np.ndarray:
        """A float matrix for predictors, one row per config: each active gene's value
        (numeric dimensions) or value index (others); inactive genes are 0.

        Order-blind: :class:`hwnas.predictors.SpaceEncoder` is the typed encoding (one-hot
        categorical dimensions, an inactive indicator); this is its ``"ordinal"`` form.
        """
        if not configs:
            return np.zeros((0, len(self.dims)))
        return self.features_from_indices(np.stack([self.encode(c) for c in configs]))

    def features_from_indices(self, indices: np.ndarray) -> np.ndarray:
        """:meth:`features` for a matrix of value indices (rows from :meth:`encode`)."""
        indices = self._index_rows(indices)
        out = np.empty(indices.shape, dtype=np.float64)
        for column, table in enumerate(self._feature_values):
            out[:, column] = table[indices[:, column]]
        out[~self.active_matrix(indices)] = 0.0
        return out

    def _index_rows(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.dtype.kind == "f":
            indices = np.rint(indices)
        return indices.astype(np.int64, copy=False).reshape(-1, len(self.dims))

    @functools.cached_property
    def _feature_values(self) -> list[np.ndarray]:
        """Per dimension: the feature of each value index (its value if all are numbers)."""
        return [np.array(d.values, dtype=np.float64) if d.numeric
                else np.arange(len(d.values), dtype=np.float64) for d in self.dims]

    @functools.cached_property
    def _activity_tables(self) -> list[tuple[int, int, np.ndarray]]:
        """Per conditional dimension: its column, its parent's column, and for each of the
        parent's value indices whether the dimension is active."""
        columns = {name: i for i, name in enumerate(self.names)}
        tables = []
        for dim in self.dims:
            if dim.active_if is None:
                continue
            parent = self[dim.active_if[0]]
            table = np.array([self.is_active(dim, {parent.name: v}) for v in parent.values])
            tables.append((columns[dim.name], columns[parent.name], table))
        return tables

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
        """The last value of every ordered dimension; a categorical one (no value is larger
        than another) keeps its first value."""
        return {d.name: d.values[-1] if d.ordered else d.values[0] for d in self.dims}

    def smallest(self) -> Config:
        """The first value of every dimension (ordered or not)."""
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
        """``{"dims": [{"name", "type", "values", "active_if"}]}``, JSON-ready; ``active_if``
        is ``None``, ``{"parent", "at_least"}`` or ``{"parent", "in": [...]}``; ``"group"``
        appears only on a dimension that has one."""
        return {"dims": [d.to_dict() for d in self.dims]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        """The inverse of :meth:`to_dict`; also reads the older untyped format (every
        dimension a :class:`Choice`, ``active_if`` a ``[parent, threshold]`` pair)."""
        return cls([_dim_from_dict(d) for d in data["dims"]])

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _dim_from_dict(data: dict[str, Any]) -> Dimension:
    kind = data.get("type", "choice")
    if kind not in _KINDS:
        raise InvalidConfigError(
            f"dimension {data.get('name')!r} has unknown type {kind!r}; known: {sorted(_KINDS)}"
        )
    condition = data.get("active_if")
    if isinstance(condition, dict):
        rule = frozenset(condition["in"]) if "in" in condition else condition["at_least"]
        condition = (condition["parent"], rule)
    elif condition:
        condition = tuple(condition)
    return _KINDS[kind](data["name"], tuple(data["values"]), condition or None,
                        data.get("group"))


def _condition(name: str, condition: Any) -> Condition | None:
    """``active_if`` normalised: ``None``, ``(parent, threshold)`` or ``(parent, frozenset)``."""
    if condition is None:
        return None
    if not isinstance(condition, (tuple, list)) or len(condition) != 2 \
            or not isinstance(condition[0], str):
        raise InvalidConfigError(
            f"dimension {name!r}: active_if must be (parent, threshold) or (parent, "
            f"{{values}}), got {condition!r}"
        )
    parent, rule = condition
    if isinstance(rule, (set, frozenset, list, tuple)):
        rule = frozenset(_plain_scalar(v) for v in rule)
        if not rule:
            raise InvalidConfigError(
                f"dimension {name!r}: active_if names no value of {parent!r}, so it is "
                "never active; drop the dimension instead"
            )
    else:
        rule = _plain_scalar(rule)
    return (parent, rule)


def _plain_scalar(value: Any) -> Any:
    """numpy scalars as Python ones, so configs stay JSON-ready."""
    return value.item() if isinstance(value, np.generic) else value


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value if value is not None else 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)

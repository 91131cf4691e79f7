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

A space may also know that some *different* configs build one network, beyond what
conditions say (an edge of a cell whose output no path uses, say): ``canonicalize=``, a
function ``config -> config`` that returns one fixed config for every config of the same
network (it sees configs whose inactive genes are masked already; it must return a config
of the space and be idempotent; dimensions it leaves out keep their values, so a hook
over the architecture's dimensions still holds when more are joined to them, such as the
per-layer quantization genes). Every id, canonical form and duplicate check follows it
(:meth:`SearchSpace.canonical`, :meth:`~SearchSpace.arch_id`,
:meth:`~SearchSpace.canonical_indices`, so every strategy's duplicate elimination), and
:meth:`~SearchSpace.size` / :meth:`~SearchSpace.enumerate` count networks. Stored with a
study as ``"package.module:function"``, so it must be importable (not a lambda).

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import InvalidConfigError
from hwnas.registry import import_object

Config = dict[str, Any]
Condition = tuple[str, Any]
"""``(parent, threshold)`` or ``(parent, frozenset_of_values)``."""
Canonicalize = Callable[[Config], Config]
"""``config -> config``: one fixed config for every config of the same network."""

NETWORK_COUNT_LIMIT = 2_000_000
"""With a ``canonicalize`` hook, spaces of up to this many configs are enumerated to count
their networks (:meth:`SearchSpace.size`); a larger one reports its count of configs."""
_MEMO_LIMIT = 500_000
"""Canonical rows the hook's memo keeps before it starts over."""


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
    """An ordered collection of dimensions (one level of conditions), optionally with a
    ``canonicalize`` hook that says which configs are one network (see the module
    docstring): a module-level function, or its ``"package.module:function"`` path
    (imported when first needed)."""

    def __init__(self, dims: Sequence[Dimension],
                 canonicalize: Canonicalize | str | None = None) -> None:
        if canonicalize is not None and not callable(canonicalize):
            if not isinstance(canonicalize, str) or not _is_import_path(canonicalize):
                raise InvalidConfigError(
                    f"canonicalize must be a function config -> config or its import path "
                    f"'package.module:function', got {canonicalize!r}"
                )
        self.canonicalize: Canonicalize | str | None = canonicalize
        self._network_memo: dict[bytes, np.ndarray] = {}
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
        return (isinstance(other, SearchSpace) and self._dims_dict() == other._dims_dict()
                and self._hook_key() == other._hook_key())

    def __hash__(self) -> int:
        return hash((json.dumps(self._dims_dict()), self._hook_key()))

    def __repr__(self) -> str:
        return f"SearchSpace({len(self)} dims, {self.size():,} sub-networks)"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_network_memo"] = {}  # a cache: not worth shipping to another process
        return state

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
        """The number of distinct sub-networks (inactive genes do not count). With a
        ``canonicalize`` hook: counted by enumerating the configs (once; cached) when there
        are at most :data:`NETWORK_COUNT_LIMIT` of them, else the count of configs (an upper
        bound)."""
        if self.canonicalize is None:
            return self._config_count()
        return self._network_count

    @functools.cached_property
    def _network_count(self) -> int:
        if self._config_count() > NETWORK_COUNT_LIMIT:
            return self._config_count()
        return sum(1 for _ in self.enumerate())

    def _config_count(self) -> int:
        """Configs that differ in an active gene (what :meth:`size` is without a hook)."""
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
        """The same sub-network with every inactive gene set to its dimension's first value
        (and, with a ``canonicalize`` hook, in the hook's form)."""
        self.validate(config)
        masked = self._masked(config)
        if self.canonicalize is None:
            return masked
        return self.decode(self._network_row(
            np.array([d.index(masked[d.name]) for d in self.dims], dtype=np.int64)))

    def _masked(self, config: Config) -> Config:
        return {d.name: (config[d.name] if self.is_active(d, config) else d.values[0])
                for d in self.dims}

    def _hook(self) -> Canonicalize:
        hook = self.canonicalize
        if isinstance(hook, str):
            hook = import_object(hook, "the space's canonicalize hook")
            self.canonicalize = hook
        return hook

    def _hook_key(self) -> Any:
        """What identifies the hook: its import path, else the function itself."""
        if self.canonicalize is None or isinstance(self.canonicalize, str):
            return self.canonicalize
        return _hook_path(self.canonicalize) or self.canonicalize

    def _network_row(self, row: np.ndarray) -> np.ndarray:
        """The hook's canonical row of one masked row of value indices (memoised)."""
        key = row.tobytes()
        found = self._network_memo.get(key)
        if found is not None:
            return found
        first = self._apply_hook(row)
        if not np.array_equal(self._apply_hook(first), first):
            raise InvalidConfigError(
                f"the space's canonicalize hook {self._hook_name()} is not idempotent: it maps "
                f"{self.decode(row)} to {self.decode(first)}, and that to another config; it "
                "must return the same config for a config already in canonical form"
            )
        if len(self._network_memo) >= _MEMO_LIMIT:
            self._network_memo.clear()
        self._network_memo[key] = first
        self._network_memo[first.tobytes()] = first
        return first

    def _apply_hook(self, row: np.ndarray) -> np.ndarray:
        config = self.decode(row)
        try:
            out = self._hook()(dict(config))
        except InvalidConfigError:
            raise
        except Exception as error:
            raise InvalidConfigError(
                f"the space's canonicalize hook {self._hook_name()} raised "
                f"{type(error).__name__}: {error} on {config}"
            ) from error
        if not isinstance(out, dict):
            raise InvalidConfigError(
                f"the space's canonicalize hook {self._hook_name()} returned "
                f"{type(out).__name__} {out!r} for {config}; it must return a config (a dict "
                "of this space's dimensions)"
            )
        out = {**config, **out}  # the dimensions the hook leaves out are kept
        try:
            self.validate(out)
        except InvalidConfigError as error:
            raise InvalidConfigError(
                f"the space's canonicalize hook {self._hook_name()} returned a config outside "
                f"the space for {config}: {error}"
            ) from None
        masked = self._masked(out)
        return np.array([d.index(masked[d.name]) for d in self.dims], dtype=np.int64)

    def _hook_name(self) -> str:
        hook = self.canonicalize
        return repr(hook) if isinstance(hook, str) else repr(
            _hook_path(hook) or getattr(hook, "__qualname__", hook))

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
        """Rows of value indices with every inactive gene set to 0 (its first value), and
        with a ``canonicalize`` hook in its form, so equal rows are the same sub-network
        (vectorised :meth:`canonical`)."""
        indices = self._index_rows(indices).copy()
        if self._activity_tables:
            indices[~self.active_matrix(indices)] = 0
        if self.canonicalize is not None and len(indices):
            memo = self._network_memo
            rows = [memo.get(row.tobytes()) for row in indices]
            indices = np.stack([found if found is not None else self._network_row(row)
                                for found, row in zip(rows, indices)])
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
        if self.canonicalize is None:
            yield from self._enumerate_configs()
            return
        seen: set[bytes] = set()
        for config in self._enumerate_configs():
            row = self._network_row(self.encode(config))
            key = row.tobytes()
            if key not in seen:
                seen.add(key)
                yield self.decode(row)

    def _enumerate_configs(self) -> Iterator[Config]:
        """Every config that differs in an active gene once, inactive genes masked."""
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
        appears only on a dimension that has one; ``"canonicalize"`` (the hook's
        ``"package.module:function"``) only on a space that has one. A hook that cannot be
        imported by that path (a lambda, a nested function, one defined in ``__main__``)
        raises :class:`~hwnas.errors.InvalidConfigError`."""
        data = self._dims_dict()
        if self.canonicalize is not None:
            path = self._hook_key()
            if not isinstance(path, str):
                raise InvalidConfigError(
                    f"the space's canonicalize hook {self._hook_name()} cannot be stored: a "
                    "study stores it by import path, so define it at module level in an "
                    "importable module (not a lambda, a nested function or __main__) and "
                    "pass the function or 'package.module:function'"
                )
            data["canonicalize"] = path
        return data

    def _dims_dict(self) -> dict[str, Any]:
        return {"dims": [d.to_dict() for d in self.dims]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        """The inverse of :meth:`to_dict`; also reads the older untyped format (every
        dimension a :class:`Choice`, ``active_if`` a ``[parent, threshold]`` pair)."""
        return cls([_dim_from_dict(d) for d in data["dims"]], data.get("canonicalize"))

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


def _is_import_path(path: str) -> bool:
    module, sep, attribute = path.partition(":")
    return bool(sep and module and attribute)


def _hook_path(function: Any) -> str | None:
    """``"module:qualname"`` of a function importable by that path, else None."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    return f"{module}:{qualname}"


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

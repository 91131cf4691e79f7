"""Tabulated benchmarks: every sub-network of a space measured once, served by lookup.

A :class:`TabularBenchmark` is an evaluator (``config -> dict[str, Measurement]``) that
answers from a table instead of measuring, so a whole search runs in seconds and its result
can be scored against the *true* Pareto front of the space, which the table knows exactly.

The table is one ``.npz`` file (``numpy.savez_compressed``, no pickles):

- ``configs``: int8 ``(rows, dims)``, each row a canonical config encoded as value indices
  in the space's dimension order (:meth:`SearchSpace.encode`); every sub-network once;
- ``value.<metric>`` and ``spread.<metric>``: float32 ``(rows,)`` per metric (spread is the
  inter-quartile range of the repeats, 0 for exact figures);
- ``metadata``: a JSON string with the format, the space (:meth:`SearchSpace.to_dict`), the
  metrics (direction, unit, repeats), and how the table was made (data set, seed, training
  report, measure settings, machine); optionally ``objectives`` (the table's default
  ``[[metric, direction], ...]``) and ``tasks`` (named objective lists it is meant for).

The packaged tables (``BENCHMARKS.names()``) are a suite of kinds of space: ordered widths
and depths with threshold conditions (``mnist1d_cnn1d``), unordered operation choices per
cell edge (``mnist1d_cells``, also a three-objective task with two latency targets), and
block types whose own genes are active only under them (``mnist1d_blocks``).

>>> bench = load_benchmark("mnist1d_cnn1d")
>>> len(bench) == bench.space.size()
True
>>> sorted(bench.lookup(bench.space.largest()))[:3]
['accuracy', 'latency', 'macs']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import HwnasError, InvalidConfigError
from hwnas.measure.base import Measurement
from hwnas.pareto import hypervolume, non_dominated
from hwnas.registry import Registry
from hwnas.space import Canonicalize, Config, SearchSpace

FORMAT = "hwnas-tabular/1"
Objectives = Sequence[tuple[str, str]]
DEFAULT_OBJECTIVES: tuple[tuple[str, str], ...] = (("accuracy", "maximize"),
                                                    ("latency", "minimize"))


class TabularBenchmark:
    """Every sub-network of ``space`` with its measured metrics; call it as an evaluator.

    ``configs`` holds one canonical encoded config per row; ``values`` and ``spreads`` map a
    metric name to one float per row; ``metadata`` must hold ``metrics``: name ->
    ``{"direction", "unit", "repeats"}``.
    """

    def __init__(self, space: SearchSpace, configs: np.ndarray, values: dict[str, np.ndarray],
                 spreads: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
        configs = np.asarray(configs)
        if configs.ndim != 2 or configs.shape[1] != len(space):
            raise InvalidConfigError(
                f"configs must be a (rows, {len(space)}) array of value indices, got shape "
                f"{configs.shape}"
            )
        described = metadata.get("metrics", {})
        for name in values:
            if name not in spreads or name not in described:
                raise InvalidConfigError(
                    f"metric {name!r} needs a spread column and an entry in metadata['metrics']"
                )
            if len(values[name]) != len(configs) or len(spreads[name]) != len(configs):
                raise InvalidConfigError(
                    f"metric {name!r} has {len(values[name])} values for {len(configs)} rows"
                )
        self.space = space
        self.configs = configs
        self._values = dict(values)
        self._spreads = dict(spreads)
        self.metadata = metadata
        self._index: dict[str, int] | None = None

    # -- loading and saving ------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> TabularBenchmark:
        """Read a table written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                metadata = json.loads(str(archive["metadata"]))
                arrays = {key: archive[key] for key in archive.files if key != "metadata"}
        except (OSError, KeyError, ValueError) as error:
            raise HwnasError(
                f"{str(path)!r} is not a readable hwnas benchmark table ({error}); rebuild it "
                "with its build script in benchmarks/tabular/"
            ) from None
        if metadata.get("format") != FORMAT:
            raise HwnasError(f"{str(path)!r} has format {metadata.get('format')!r}, "
                             f"expected {FORMAT!r}")
        space = SearchSpace.from_dict(metadata["space"])
        names = list(metadata["metrics"])
        return cls(space, arrays["configs"],
                   {n: arrays[f"value.{n}"] for n in names},
                   {n: arrays[f"spread.{n}"] for n in names}, metadata)

    def save(self, path: str | Path) -> Path:
        """Write the table (compressed) to ``path``, which should end in ``.npz``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {**self.metadata, "format": FORMAT, "space": self.space.to_dict()}
        arrays: dict[str, np.ndarray] = {"configs": self.configs.astype(np.int8)}
        for name in self.metrics:
            arrays[f"value.{name}"] = np.asarray(self._values[name], dtype=np.float32)
            arrays[f"spread.{name}"] = np.asarray(self._spreads[name], dtype=np.float32)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, metadata=np.array(json.dumps(metadata)), **arrays)
        return path

    def networks(self, canonicalize: Canonicalize | str) -> TabularBenchmark:
        """This table over the space with the ``canonicalize`` hook (which configs are one
        network, :class:`~hwnas.space.SearchSpace`): one row per network, its canonical
        config's (the table holds every config, so it holds those), and a lookup of any
        config answers with its network's row."""
        space = SearchSpace(self.space.dims, canonicalize=canonicalize)
        keep = self.canonical_rows(space)
        if int(keep.sum()) != space.size():
            raise HwnasError(f"the table holds {int(keep.sum())} of the {space.size()} "
                             "networks' canonical configs; rebuild it")
        return TabularBenchmark(space, self.configs[keep],
                                {name: column[keep] for name, column in self._values.items()},
                                {name: column[keep] for name, column in self._spreads.items()},
                                self.metadata)

    def canonical_rows(self, space: SearchSpace) -> np.ndarray:
        """Which rows hold a config already in ``space``'s canonical form (with a
        ``canonicalize`` hook: one row per network)."""
        return np.all(space.canonical_indices(self.configs) == self.configs, axis=1)

    # -- basic facts -------------------------------------------------------------------
    @property
    def metrics(self) -> list[str]:
        """The measured metrics' names, in table order."""
        return list(self._values)

    @property
    def default_objectives(self) -> list[tuple[str, str]]:
        """The table's own default objectives (``metadata["objectives"]``), else
        :data:`DEFAULT_OBJECTIVES` (accuracy and latency)."""
        return [tuple(pair) for pair in self.metadata.get("objectives", DEFAULT_OBJECTIVES)]

    @property
    def tasks(self) -> dict[str, list[tuple[str, str]]]:
        """Named objective lists the table is meant for (``metadata["tasks"]``), at least
        ``{"default": default_objectives}``."""
        tasks = {name: [tuple(pair) for pair in objectives]
                 for name, objectives in self.metadata.get("tasks", {}).items()}
        return tasks or {"default": self.default_objectives}

    def direction(self, metric: str) -> str:
        """``"maximize"`` or ``"minimize"``: the natural direction of ``metric``."""
        return self.metadata["metrics"][self._check_metric(metric)]["direction"]

    def __len__(self) -> int:
        return len(self.configs)

    def __repr__(self) -> str:
        return (f"TabularBenchmark({len(self):,} sub-networks, metrics={self.metrics}, "
                f"dataset={self.metadata.get('dataset', {}).get('name')!r})")

    def config(self, row: int) -> Config:
        """The canonical config stored in ``row``."""
        return self.space.decode(self.configs[row])

    # -- lookups -----------------------------------------------------------------------
    def row(self, config: Config) -> int:
        """The table row of ``config``'s sub-network (inactive genes do not matter)."""
        arch_id = self.space.arch_id(config)  # validates: names the offending dimension
        row = self._id_index().get(arch_id)
        if row is None:
            raise InvalidConfigError(
                f"sub-network {arch_id} ({config}) is in the space but not in this table; "
                "the table is incomplete, rebuild it"
            )
        return row

    def lookup(self, config: Config) -> dict[str, Measurement]:
        """Every metric of ``config``'s sub-network, as it was measured."""
        row = self.row(config)
        return {name: Measurement(float(self._values[name][row]),
                                  float(self._spreads[name][row]),
                                  int(self.metadata["metrics"][name].get("repeats", 1)))
                for name in self._values}

    __call__ = lookup

    def values(self, names: Sequence[str]) -> np.ndarray:
        """A float64 ``(rows, len(names))`` matrix of the named metrics over the whole table."""
        if isinstance(names, str):
            names = [names]
        return np.stack([self._values[self._check_metric(n)].astype(np.float64)
                         for n in names], axis=1)

    def spreads(self, names: Sequence[str]) -> np.ndarray:
        """Like :meth:`values`, for the spreads."""
        if isinstance(names, str):
            names = [names]
        return np.stack([self._spreads[self._check_metric(n)].astype(np.float64)
                         for n in names], axis=1)

    # -- the true front ----------------------------------------------------------------
    def pareto_front(self, objectives: Objectives | None = None,
                     rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Row indices (sorted) of the non-dominated sub-networks for ``objectives``
        (``[(metric, "maximize" | "minimize"), ...]``; default :attr:`default_objectives`),
        over the whole table or ``rows``."""
        names, directions = self._split(objectives)
        candidates = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        front = non_dominated(self.values(names)[candidates], directions)
        return np.sort(candidates[front])

    def default_reference(self, objectives: Objectives | None = None) -> list[float]:
        """The worst value of each objective over the whole table."""
        names, directions = self._split(objectives)
        values = self.values(names)
        return [float(values[:, i].min() if d == "maximize" else values[:, i].max())
                for i, d in enumerate(directions)]

    def hypervolume_of_front(self, objectives: Objectives | None = None,
                             reference: Sequence[float] | None = None) -> float:
        """Hypervolume of the true front: the most any search of this space can reach
        against ``reference`` (default :meth:`default_reference`)."""
        names, directions = self._split(objectives)
        objectives = self.default_objectives if objectives is None else objectives
        reference = self.default_reference(objectives) if reference is None else reference
        front = self.pareto_front(objectives)
        return hypervolume(self.values(names)[front], directions, list(reference))

    # -- helpers -----------------------------------------------------------------------
    def _id_index(self) -> dict[str, int]:
        if self._index is None:
            index = {self.space.arch_id(self.space.decode(encoded)): row
                     for row, encoded in enumerate(self.configs)}
            if len(index) != len(self.configs):
                raise HwnasError("the table holds the same sub-network twice; rebuild it")
            self._index = index
        return self._index

    def _check_metric(self, name: str) -> str:
        if name not in self._values:
            raise InvalidConfigError(f"unknown metric {name!r}; this table has {self.metrics}")
        return name

    def _split(self, objectives: Objectives | None) -> tuple[list[str], list[str]]:
        if objectives is None:
            objectives = self.default_objectives
        if not objectives:
            raise InvalidConfigError("give at least one objective, e.g. [('accuracy', "
                                     "'maximize'), ('latency', 'minimize')]")
        names, directions = [], []
        for name, direction in objectives:
            if direction not in ("maximize", "minimize"):
                raise InvalidConfigError(f"objective {name!r}: direction must be 'maximize' "
                                         f"or 'minimize', got {direction!r}")
            names.append(self._check_metric(name))
            directions.append(direction)
        return names, directions


BENCHMARKS: Registry[TabularBenchmark] = Registry("benchmark")


def _packaged(filename: str) -> Path:
    return Path(str(resources.files("hwnas").joinpath("benchmark_data", filename)))


@BENCHMARKS.register("mnist1d_cnn1d")
def mnist1d_cnn1d() -> TabularBenchmark:
    """The ``cnn1d_bench`` super-network on mnist1d: 20,736 sub-networks with val and test
    accuracy, latency (torch, batch 1, one thread), MACs, params and model size."""
    return TabularBenchmark.load(_packaged("mnist1d_cnn1d.npz"))


@BENCHMARKS.register("mnist1d_cells")
def mnist1d_cells(per_network: bool = True) -> TabularBenchmark:
    """A cell-based one-shot super-network on mnist1d (``benchmarks/tabular/cells.py``): one
    cell of 6 edges, each an unordered :class:`~hwnas.space.Categorical` choice among
    ``zero, skip, conv3, conv5, maxpool3``, stacked in 3 stages; 5**6 = 15,625 cells, trained
    once with fair single-path sampling. Val and test accuracy, latency at batch 1 and at
    batch 32 (``latency@b1``, ``latency@b32``; torch, one thread), MACs, params. Tasks:
    accuracy against either latency, and the three objectives together.

    Cells that differ only in edges no signal crosses are one network
    (:func:`hwnas.cell_space.canonical_cell`): the table has one row per network (9,445), and
    its space says so, so a search never measures one network twice. ``per_network=False``:
    a row per config (15,625; the configs of one network hold its one measurement), over the
    space without the hook."""
    table = TabularBenchmark.load(_packaged("mnist1d_cells.npz"))
    return table.networks("hwnas.cell_space:canonical_cell") if per_network else table


@BENCHMARKS.register("mnist1d_blocks")
def mnist1d_blocks() -> TabularBenchmark:
    """A block-type one-shot super-network on mnist1d (``benchmarks/tabular/blocks.py``): 4
    stages, each a :class:`~hwnas.space.Categorical` block type ``conv, sep, pool, skip``
    whose genes are conditional on it (kernel for ``{conv, sep}``, width for ``{conv}``,
    expansion for ``{sep}``); 10**4 = 10,000 sub-networks, trained once with fair
    single-path sampling. Val and test accuracy, latency (torch, batch 1, one thread),
    MACs, params."""
    return TabularBenchmark.load(_packaged("mnist1d_blocks.npz"))


def load_benchmark(name: str = "mnist1d_cnn1d") -> TabularBenchmark:
    """The packaged benchmark table ``name`` (see ``BENCHMARKS.names()``)."""
    return BENCHMARKS.create(name)


__all__ = ["BENCHMARKS", "DEFAULT_OBJECTIVES", "TabularBenchmark", "load_benchmark"]

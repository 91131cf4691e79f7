"""Latency lookup tables per target (Once-for-All / nn-Meter style), for any super-network.

A sub-network is cut into *units*: the modules its top-level children (``depth`` levels
down) are, each called on the inputs it really gets. A unit is known by its structural
signature (:func:`unit_signature`: module types, their size attributes, parameter shapes
and the input shapes), so the same layer configuration in two sub-networks is one table
entry, measured once on the target. A sub-network's latency is predicted as the sum of its
units' entries plus an affine correction (``slope * sum + intercept``, fitted on 10-20
whole-network measurements) that absorbs what summation misses: the calls between units,
caches, the backend's fusion of neighbouring layers. Units are timed by the robust method
against the super-network's reference network unless it is very slow
(``UNIT_REFERENCE_MS``), else against the small probe network: never on their own, since a
shared machine's speed drifts by tens of percent between one unit and the next. The probe
is the worse scale, presumably as its working set fits in the first-level caches and a
unit's does not, so contention slows them unlike: ``ofa_resnet50``'s units, timed twice in
one process, had pass-to-pass ratios with quartiles 0.82-1.02 and 1.00-1.29 (two runs)
against the probe, 0.97-1.02 against the reference.

A table is stored on disk (``cache_dir()/latency_tables/<key>.json``) under its target's
key (:mod:`hwnas.measure.hardware`: machine, backend, provider, threads, batch size and the
super-network's space), so it is rebuilt whenever any of them changes. Units a table has
not seen are measured when first met and added.

Uses: the cheap measure kind ``latency_table`` (objective, or a constraint checked before
the expensive measures), and :meth:`LatencyTable.predict_config` as a predictor feature.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.hardware import cache_dir, target_key
from hwnas.measure.latency import LatencyMeasure
from hwnas.measure.onnx import export_onnx
from hwnas.supernets import io
from hwnas.threads import CPU_PROVIDER

TABLES_FOLDER = "latency_tables"
#: units are timed against the reference network when it takes at most this long (every
#: built-in family's does: ofa_resnet50's takes ~7 ms), else against the small probe network
#: (:func:`~hwnas.measure.latency.probe_network`), which keeps a table of a very large model
#: affordable at the price of a less faithful scale; never on their own, as a shared
#: machine's speed drifts by tens of percent between units
UNIT_REFERENCE_MS = 25.0
_SIZE_TYPES = (bool, int, float, str, type(None))


@dataclass
class Unit:
    """One call of a part of a sub-network: the module, the arguments it got, its key."""

    signature: str
    module: nn.Module
    args: tuple
    kwargs: dict


def _plain(value: Any) -> Any:
    if isinstance(value, _SIZE_TYPES):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, _SIZE_TYPES) for v in value):
        return list(value)
    return None


def _shape_of(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return [list(value.shape), str(value.dtype)]
    if isinstance(value, (tuple, list)):
        return [_shape_of(v) for v in value]
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in sorted(value.items())}
    return _plain(value) if _plain(value) is not None else type(value).__name__


def unit_signature(module: nn.Module, args: tuple = (), kwargs: dict | None = None) -> str:
    """A digest of what decides ``module``'s latency on these inputs: every submodule's type
    and plain size attributes (channels, kernel, stride, heads, ...), every parameter's and
    buffer's shape and dtype, and the inputs' shapes and dtypes. Weight values do not count.

    >>> a = unit_signature(nn.Conv2d(3, 8, 3), (torch.zeros(1, 3, 8, 8),))
    >>> a == unit_signature(nn.Conv2d(3, 8, 3), (torch.ones(1, 3, 8, 8),))
    True
    >>> a == unit_signature(nn.Conv2d(3, 8, 5), (torch.zeros(1, 3, 8, 8),))
    False
    """
    structure = []
    for name, sub in module.named_modules():
        sizes = {k: _plain(v) for k, v in sorted(vars(sub).items())
                 if not k.startswith("_") and k != "training" and _plain(v) is not None}
        structure.append([name, type(sub).__qualname__, sizes])
    tensors = [[n, list(t.shape), str(t.dtype)] for n, t in
               [*module.named_parameters(), *module.named_buffers()]]
    text = json.dumps([structure, tensors, _shape_of(args), _shape_of(kwargs or {})],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _parts(module: nn.Module, depth: int) -> list[nn.Module]:
    parts = [module]
    for _ in range(depth):
        expanded = []
        for part in parts:
            children = list(part.children())
            expanded.extend(children if children else [part])
        parts = expanded
    return parts


def decompose(module: nn.Module, inputs: io.Inputs, depth: int = 1) -> list[Unit]:
    """The units of ``module`` run on ``inputs``: every call of a module ``depth`` levels
    below it (a module without children is its own unit), in call order."""
    parts = _parts(module, depth)
    calls: list[Unit] = []
    hooks = []

    def record(part: nn.Module, args: tuple, kwargs: dict) -> None:
        calls.append(Unit("", part, _clone(args), _clone(kwargs)))

    for part in dict.fromkeys(parts):  # a module used twice is hooked once
        hooks.append(part.register_forward_pre_hook(record, with_kwargs=True))
    try:
        with torch.inference_mode():
            io.forward(module.eval(), inputs)
    finally:
        for hook in hooks:
            hook.remove()
    if not calls:
        raise InvalidConfigError(f"{type(module).__name__} ran none of its parts; a latency "
                                 "table needs a module whose forward calls its children")
    for unit in calls:
        unit.signature = unit_signature(unit.module, unit.args, unit.kwargs)
    return calls


def space_identity(supernet: Any) -> dict[str, Any]:
    """The super-network a table covers: its class, digests of its space and of its
    parameters' names and shapes (not values), its inputs."""
    space = getattr(supernet, "space", None)
    described = json.dumps(space.to_dict(), sort_keys=True, default=str) \
        if space is not None else ""
    shapes = [[n, list(p.shape)] for n, p in supernet.named_parameters()] \
        if isinstance(supernet, nn.Module) else []
    return {"supernet": type(supernet).__qualname__,
            "space_sha": hashlib.sha256(described.encode()).hexdigest()[:16],
            "weights_sha": hashlib.sha256(json.dumps(shapes).encode()).hexdigest()[:16],
            "inputs": _shape_of(io.example_inputs(supernet, 1))}


UnitTimer = Callable[[Unit], float]


class LatencyTable:
    """The latency table of ``supernet`` on the target of ``measure`` (a
    :class:`~hwnas.measure.latency.LatencyMeasure`: backend, provider, threads, batch).

    ``time_unit`` replaces timing a unit on the target (e.g. hand-given times in tests);
    ``folder`` is where tables are stored (default ``cache_dir()/latency_tables``; None
    with ``store=False`` keeps it in memory)."""

    def __init__(self, supernet: Any, measure: LatencyMeasure | None = None, depth: int = 1,
                 folder: Path | None = None, store: bool = True,
                 time_unit: UnitTimer | None = None) -> None:
        if depth < 1:
            raise InvalidConfigError(f"a latency table's depth must be >= 1, got {depth}")
        self.supernet, self.measure = supernet, measure or LatencyMeasure()
        self.depth, self.store = depth, store
        # the unit-timing rule is part of the target: a table whose units were timed on
        # another scale is rebuilt, not extended
        self.description = self.measure.target(depth=depth, unit_reference_ms=UNIT_REFERENCE_MS,
                                               **space_identity(supernet))
        self.key = target_key(self.description)
        self.path = (folder or cache_dir() / TABLES_FOLDER) / f"{self.key}.json"
        self.entries: dict[str, float] = {}
        self.slope, self.intercept, self.residual = 1.0, 0.0, 0.0
        self.calibration: dict[str, list] = {"sums": [], "measured": []}
        self.measured_units = 0
        self._time_unit = time_unit or self._measure_unit
        # whole sub-networks are timed against the reference network (a stable scale), and
        # units too unless it is very slow (UNIT_REFERENCE_MS); else units are timed against
        # the probe network (the calibration maps that scale to the whole networks')
        self._context = MeasureContext(io.example_inputs(supernet, 1), supernet=supernet)
        self._unit_context = MeasureContext(io.example_inputs(supernet, 1))
        if store and self.path.is_file():
            self._load()

    # -- storage ------------------------------------------------------------------------------
    def _load(self) -> None:
        data = json.loads(self.path.read_text())
        if data.get("key") != self.key:  # a file for another target: rebuilt
            return
        self.entries = {k: float(v) for k, v in data["entries"].items()}
        self.slope, self.intercept = float(data["slope"]), float(data["intercept"])
        self.residual = float(data.get("residual", 0.0))
        self.calibration = data.get("calibration", self.calibration)

    def save(self) -> None:
        """Write the table (merged with entries another process added meanwhile)."""
        if not self.store:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.is_file():
                try:
                    stored = json.loads(self.path.read_text())
                    if stored.get("key") == self.key:
                        self.entries = {**stored["entries"], **self.entries}
                except (OSError, json.JSONDecodeError, KeyError):
                    pass
            data = {"key": self.key, "description": self.description,
                    "entries": self.entries, "slope": self.slope,
                    "intercept": self.intercept, "residual": self.residual,
                    "calibration": self.calibration,
                    "saved": time.strftime("%Y-%m-%dT%H:%M:%S")}
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(temporary, self.path)

    # -- measuring ----------------------------------------------------------------------------
    def _measure_unit(self, unit: Unit) -> float:
        measure = self.measure
        if measure.backend == "onnxruntime":
            if unit.kwargs:
                raise InvalidConfigError(
                    f"{type(unit.module).__name__} takes keyword arguments, which an ONNX "
                    "export of one unit cannot; use a torch latency table or depth=1")
            inputs = unit.args[0] if len(unit.args) == 1 else tuple(unit.args)
            run = measure.feed_runner(export_onnx(unit.module, inputs), inputs)
        else:
            def run() -> Any:
                return unit.module(*unit.args, **unit.kwargs)
        if measure.method != "robust":
            return measure.time(run, self._unit_context).value
        reference = measure.reference(self._context)
        if reference is None or reference[1] > UNIT_REFERENCE_MS:
            reference = measure.probe()
        return measure.time(run, self._unit_context, reference).value

    def _module(self, config: dict) -> nn.Module:
        return self.supernet.extract(config).eval()

    def units(self, module: nn.Module) -> list[Unit]:
        inputs = io.example_inputs(self.supernet, self.measure.batch_size)
        return decompose(module, inputs, self.depth)

    def summed(self, module: nn.Module) -> float:
        """The sum of ``module``'s units' entries; units not in the table are measured
        first (and the table saved)."""
        total, added = 0.0, False
        for unit in self.units(module):
            if unit.signature not in self.entries:
                self.entries[unit.signature] = float(self._time_unit(unit))
                self.measured_units += 1
                added = True
            total += self.entries[unit.signature]
        if added:
            self.save()
        return total

    def calibrate(self, configs: Sequence[dict],
                  measured: Sequence[float] | None = None) -> dict[str, float]:
        """Fit the affine correction on whole-network latencies of ``configs``
        (``measured``: given; default: measured now with the table's measure); returns
        the fit's slope, intercept and relative RMS residual."""
        if len(configs) < 2:
            raise InvalidConfigError(f"calibrating a latency table needs >= 2 sub-networks "
                                     f"(10-20 is right), got {len(configs)}")
        sums, latencies = [], []
        for index, config in enumerate(configs):
            module = self._module(config)
            sums.append(self.summed(module))
            latencies.append(float(measured[index]) if measured is not None
                             else self.measure(module, self._context).value)
        x, y = np.asarray(sums), np.asarray(latencies)
        if np.ptp(x) > 0:
            self.slope, self.intercept = (float(v) for v in np.polyfit(x, y, 1))
        else:
            self.slope, self.intercept = 1.0, float(np.mean(y - x))
        predicted = self.slope * x + self.intercept
        self.residual = float(np.sqrt(np.mean(((predicted - y) / y) ** 2)))
        self.calibration = {"sums": x.tolist(), "measured": y.tolist()}
        self.save()
        return {"slope": self.slope, "intercept": self.intercept, "residual": self.residual}

    @property
    def calibrated(self) -> bool:
        return len(self.calibration.get("sums", [])) >= 2

    def predict(self, module: nn.Module) -> float:
        """Predicted milliseconds of ``module`` (a sub-network of the super-network)."""
        return self.slope * self.summed(module) + self.intercept

    def predict_config(self, config: dict) -> float:
        """Predicted milliseconds of the sub-network ``config`` (e.g. a predictor feature)."""
        return self.predict(self._module(config))


class LatencyTableMeasure(Measure):
    """Latency predicted from the target's lookup table (``latency_table``): cheap once the
    table holds the sub-network's units. The table is calibrated on ``calibration`` random
    sub-networks (seeded by ``seed``) the first time it is used on a target; the spread is
    the calibration's RMS relative residual times the figure."""

    name, unit, direction = "latency_table", "ms", "minimize"
    cost = "cheap"

    def __init__(self, backend: str = "torch", batch_size: int = 1, threads: int = 1,
                 provider: str = CPU_PROVIDER, calibration: int = 16, depth: int = 1,
                 seed: int = 0) -> None:
        if calibration < 2:
            raise InvalidConfigError(f"latency_table calibration needs >= 2 sub-networks "
                                     f"(10-20 is right), got {calibration}")
        self.latency = LatencyMeasure(backend=backend, batch_size=batch_size, threads=threads,
                                      provider=provider)
        self.calibration, self.depth, self.seed = calibration, depth, seed
        self._tables: dict[int, LatencyTable] = {}

    def settings(self) -> dict[str, Any]:
        settings = {k: v for k, v in self.latency.settings().items()
                    if k in ("backend", "batch_size", "threads", "provider")}
        return {**settings, "calibration": self.calibration, "depth": self.depth,
                "seed": self.seed}

    def table(self, supernet: Any) -> LatencyTable:
        """The (calibrated) table of ``supernet`` on this target."""
        if id(supernet) not in self._tables:
            table = LatencyTable(supernet, self.latency, self.depth)
            if not table.calibrated:
                rng = np.random.default_rng(self.seed)
                table.calibrate([supernet.space.sample(rng) for _ in range(self.calibration)])
            self._tables[id(supernet)] = table
        return self._tables[id(supernet)]

    def __call__(self, artifact: nn.Module, context: MeasureContext) -> Measurement:
        if context.supernet is None or not hasattr(context.supernet, "extract"):
            raise InvalidConfigError("latency_table needs the super-network (it builds the "
                                     "table from its sub-networks); measure through a study "
                                     "or a Pipeline")
        table = self.table(context.supernet)
        value = table.predict(artifact)
        return Measurement(value, abs(value) * table.residual, 1)


__all__ = ["LatencyTable", "LatencyTableMeasure", "Unit", "decompose", "space_identity",
           "unit_signature"]

"""The evaluation pipeline: extract -> prepare -> (transform) -> measures by key.

>>> from hwnas.measure import Metric
>>> from hwnas.supernets import create_supernet
>>> net = create_supernet("tiny_elastic_cnn")
>>> pipeline = Pipeline(net, [Metric.named("params")])
>>> measured = pipeline(net.space.smallest())
>>> sorted(measured), measured["params"].value > 0
(['params'], True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure import ARTIFACTS, Measure, MeasureContext, Measurement, Metric, Objective
from hwnas.measure.onnx import export_onnx, onnx_session
from hwnas.measure.prepare import Recalibrate
from hwnas.registry import Registry
from hwnas.space import Config, SearchSpace
from hwnas.supernets import io
from hwnas.threads import DEFAULT_THREADS, check_threads, current_threads, thread_budget


class Artifacts:
    """What the measures of one sub-network may consume: the prepared torch ``module``, its
    ``onnx`` bytes and an ONNX Runtime ``session`` (1 thread) over them, each made on first
    use from the one before. A transform may replace any of them, or drop the module."""

    def __init__(self, module: nn.Module | None, example_inputs: io.Inputs,
                 onnx: bytes | None = None, config: Config | None = None,
                 context: MeasureContext | None = None) -> None:
        self.module, self.example_inputs = module, example_inputs
        self._onnx, self._session = onnx, None
        # the whole config (a transform's own genes included) and the pipeline's context
        self.config, self.context = config, context

    @property
    def onnx(self) -> bytes:
        if self._onnx is None:
            if self.module is None:
                raise InvalidConfigError("no ONNX artifact: the transform dropped the module "
                                         "without giving ONNX bytes")
            self._onnx = export_onnx(self.module, self.example_inputs)
        return self._onnx

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = onnx_session(self.onnx, current_threads())
        return self._session

    def get(self, kind: str) -> Any:
        if kind == "module":
            if self.module is None:
                raise InvalidConfigError("no torch module: the transform left only ONNX")
            return self.module
        if kind not in ARTIFACTS:
            raise InvalidConfigError(f"unknown artifact {kind!r}; artifacts: {list(ARTIFACTS)}")
        return getattr(self, kind)


class Transform(ABC):
    """A step between preparing and measuring (the seam for e.g. quantization: torch module
    -> ONNX -> quantized ONNX). ``produces`` lists the artifacts it leaves available."""

    name: str = ""
    produces: tuple[str, ...] = ARTIFACTS

    @abstractmethod
    def __call__(self, artifacts: Artifacts) -> Artifacts:
        """The artifacts the measures will see."""

    def settings(self) -> dict[str, Any]:
        return {}

    def architecture(self, config: Config) -> Config:
        """The part of ``config`` that picks the sub-network; a transform whose own genes
        ride in the config (a quantization policy) leaves them out here."""
        return config

    def search_space(self, space: SearchSpace, supernet: Any) -> SearchSpace:
        """The space a study searches: the super-network's, plus any genes of the
        transform's own (e.g. one quantization gene per layer)."""
        return space


TRANSFORMS: Registry[Transform] = Registry("transform")


def create_transform(name: str, settings: dict[str, Any] | None = None) -> Transform:
    return TRANSFORMS.create(name, **(settings or {}))


Figure = Objective | Metric
DEFAULT_RECALIBRATION = Recalibrate()


class Pipeline:
    """Measures sub-networks of ``supernet``: extract, recalibrate batch norm on the data
    (``recalibrate``; skipped without data), transform, then every measure by its key.
    Every stage runs under a thread budget of ``threads`` (:mod:`hwnas.threads`); a
    latency measure times with its own ``threads`` setting.

    A plain function of a config once built, so it can run on any worker.
    """

    def __init__(self, supernet: Any, figures: Sequence[Figure | Measure], data: Any = None,
                 recalibrate: Recalibrate | None = DEFAULT_RECALIBRATION,
                 transform: Transform | None = None, threads: int = DEFAULT_THREADS) -> None:
        self.threads = check_threads(threads, "the pipeline's threads")
        figures = [f if isinstance(f, (Objective, Metric)) else Metric(f.name, f)
                   for f in figures]
        keys = [f.key for f in figures]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise InvalidConfigError(f"the key {repeated[0]!r} is used twice; give every "
                                     "objective and metric its own key, e.g. 'latency@b32'")
        self.supernet, self.data, self.transform = supernet, data, transform
        self.measures: dict[str, Measure] = {f.key: f.measure for f in figures}
        self.keys = frozenset(self.measures)
        available = transform.produces if transform is not None else ARTIFACTS
        for key, measure in self.measures.items():
            if measure.needs_data and data is None:
                raise InvalidConfigError(
                    f"{key!r} ({measure.name}) needs data; give the study data= (arrays or a "
                    "DataSplits), dataset= (a registered name), or --data FILE.npz"
                )
            if measure.consumes not in available:
                raise InvalidConfigError(
                    f"{key!r} measures a {measure.consumes!r} artifact but transform "
                    f"{transform.name!r} leaves only {list(available)}"
                )
        self.recalibrate = recalibrate
        self.context = MeasureContext(io.example_inputs(supernet, 1), data, supernet)
        self._calibration = None
        if recalibrate is not None and data is not None:
            self._calibration = recalibrate.calibration_batches(data.train_x)

    def prepared(self, config: Config) -> nn.Module:
        """The sub-network as it is measured (and exported): extracted, batch norm
        recalibrated, in eval mode."""
        if self.transform is not None:
            config = self.transform.architecture(config)
        with thread_budget(self.threads):
            module = self.supernet.extract(config)
            if self._calibration is not None:
                return self.recalibrate(module, None, self._calibration)
            return module.eval()

    def artifacts(self, config: Config) -> Artifacts:
        artifacts = Artifacts(self.prepared(config), self.context.example_inputs,
                              config=config, context=self.context)
        return self.transform(artifacts) if self.transform is not None else artifacts

    def __call__(self, config: Config,
                 known: Mapping[str, Measurement] | None = None) -> dict[str, Measurement]:
        """Every figure by key (those in ``known``, measured already, are not measured
        again)."""
        known = known or {}
        with thread_budget(self.threads):
            artifacts = self.artifacts(config)
            return {key: known[key] if key in known
                    else measure(artifacts.get(measure.consumes), self.context)
                    for key, measure in self.measures.items()}

    @property
    def cheap_keys(self) -> list[str]:
        """Keys whose measure declares ``cost = "cheap"`` (counted, not timed or run)."""
        return [k for k, m in self.measures.items() if getattr(m, "cost", "") == "cheap"]

    def measure_under(self, config: Config,
                      constraints: Sequence[Any]) -> dict[str, Measurement]:
        """Cheap measures first: when they break one of ``constraints``
        (:class:`hwnas.constraints.Constraint`), only they are returned (the expensive
        measures never run: nothing is prepared, timed or evaluated on data); otherwise
        every figure, as :meth:`__call__`. Without a transform the cheap figures are
        counted on the extracted sub-network before batch-norm recalibration (counts do
        not depend on it); with one, on the transformed artifacts."""
        from hwnas.constraints import total_violation

        bounded = {c.key for c in constraints}
        cheap = [k for k in self.cheap_keys if k in bounded]
        if not cheap:
            return self(config)
        with thread_budget(self.threads):
            if self.transform is None and all(self.measures[k].consumes == "module"
                                              for k in cheap):
                module = self.supernet.extract(config).eval()
                figures = {k: self.measures[k](module, self.context) for k in cheap}
            else:
                artifacts = self.artifacts(config)
                figures = {k: self.measures[k](artifacts.get(self.measures[k].consumes),
                                               self.context) for k in cheap}
        values = {k: m.value for k, m in figures.items()}
        if total_violation([c for c in constraints if c.key in values], values) > 0.0:
            return figures
        return self(config, known=figures)


def _measure_cost(kind: str) -> str:
    """The declared cost of the registered measure ``kind`` ("expensive" if unknown)."""
    from hwnas.measure import MEASURES

    return getattr(MEASURES.get(kind), "cost", "expensive") if kind in MEASURES \
        else "expensive"


class LookupEvaluator:
    """Figures by key from a function of the config (a tabulated benchmark's lookup):
    ``columns`` maps each key to the name the function returns it under."""

    def __init__(self, lookup: Any, columns: Mapping[str, str]) -> None:
        self.lookup, self.columns = lookup, dict(columns)
        self.keys = frozenset(self.columns)
        self.cheap_keys = tuple(key for key, column in self.columns.items()
                                if _measure_cost(column) == "cheap")

    def __call__(self, config: Config) -> dict[str, Measurement]:
        found = self.lookup(config)
        return {key: found[column] for key, column in self.columns.items()}

    def measure_under(self, config: Config,
                      constraints: Sequence[Any]) -> dict[str, Measurement]:
        """As :meth:`Pipeline.measure_under`, for a table: the figures of ``cheap_keys``
        (columns whose registered measure is cheap) alone when they break a constraint
        (so a tabulated search books infeasible proposals as a measured one would), else
        every figure."""
        from hwnas.constraints import total_violation

        figures = self(config)
        cheap = {k: figures[k].value for k in self.cheap_keys if k in figures}
        if total_violation([c for c in constraints if c.key in cheap], cheap) > 0.0:
            return {k: figures[k] for k in cheap}
        return figures


class CallableEvaluator:
    """A user function ``config -> {key: Measurement}``; what it returns is checked by the
    study (the keys are not known in advance)."""

    keys = None

    def __init__(self, function: Any) -> None:
        if not callable(function):
            raise InvalidConfigError(f"an evaluator must be callable, got "
                                     f"{type(function).__name__}")
        self.function = function

    def __call__(self, config: Config) -> Any:
        return self.function(config)


__all__ = ["TRANSFORMS", "Artifacts", "CallableEvaluator", "LookupEvaluator", "Pipeline",
           "Transform", "create_transform"]

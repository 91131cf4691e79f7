"""The one builder: user arguments -> :class:`EvaluatorSpec`, and a spec -> an evaluator.

``create_evaluator`` is what ``Study.create`` calls (it also hands back the search space);
``build_evaluator`` is what a reopened study, ``hwnas evaluate``, ``hwnas export`` and the
table builds call. Sources and data kinds are registries, so a new kind is one function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.data import as_data_splits
from hwnas.errors import CheckpointError, InvalidConfigError, StudyError
from hwnas.evaluation.pipeline import (
    DEFAULT_RECALIBRATION,
    CallableEvaluator,
    LookupEvaluator,
    Pipeline,
    Transform,
    create_transform,
)
from hwnas.evaluation.spec import (
    DataSpec,
    EvaluatorSpec,
    MeasureSpec,
    SourceSpec,
    resolve_path,
    store_path,
)
from hwnas.measure import Measure, Metric, Objective, create_measure
from hwnas.measure.objectives import as_metric, as_objective
from hwnas.measure.prepare import Recalibrate
from hwnas.registry import Registry, import_object
from hwnas.space import SearchSpace
from hwnas.threads import check_threads

Evaluator = Pipeline | LookupEvaluator | CallableEvaluator


@dataclass
class Evaluand:
    """What a source gives: a super-network (measured by a :class:`Pipeline`), or a lookup
    of figures by name (a benchmark table), or a user function; and the search space."""

    space: SearchSpace | None
    supernet: Any = None
    lookup: Any = None
    function: Any = None
    units: dict[str, str] | None = None


SOURCES: Registry[Evaluand] = Registry("evaluation source")
DATA_SOURCES: Registry[Any] = Registry("data source")


# -- sources ---------------------------------------------------------------------------------
@SOURCES.register("checkpoint")
def _checkpoint(spec: SourceSpec, base_dir: Path | None, given: dict[str, Any]) -> Evaluand:
    from hwnas.supernets import file_sha256, load_supernet

    path = resolve_path(spec.name, base_dir)
    if spec.sha256 is not None:
        if not path.is_file():
            raise CheckpointError(f"the study's checkpoint {str(path)!r} does not exist; "
                                  "restore it, or start a new study with --overwrite")
        current = file_sha256(path)
        if current != spec.sha256:
            raise CheckpointError(
                f"checkpoint {str(path)!r} changed since the study was created (sha256 "
                f"{spec.sha256[:12]}... then, {current[:12]}... now); restore that checkpoint, "
                "or start a new study with --overwrite"
            )
    supernet = given.get("supernet") or load_supernet(path)
    return Evaluand(supernet.space, supernet=supernet)


@SOURCES.register("factory")
def _factory(spec: SourceSpec, base_dir: Path | None, given: dict[str, Any]) -> Evaluand:
    import torch

    from hwnas.supernets import create_supernet

    with torch.random.fork_rng():  # untrained weights, the same on every rebuild
        torch.manual_seed(0)
        supernet = create_supernet(spec.name, spec.options)
    if hasattr(supernet, "eval"):
        supernet.eval()
    return Evaluand(supernet.space, supernet=supernet)


@SOURCES.register("benchmark")
def _benchmark(spec: SourceSpec, base_dir: Path | None, given: dict[str, Any]) -> Evaluand:
    from hwnas.tabular import load_benchmark

    table = load_benchmark(spec.name)
    units = {name: str(info.get("unit", "")) for name, info in table.metadata["metrics"].items()}
    return Evaluand(table.space, lookup=table, units=units)


@SOURCES.register("callable")
def _callable(spec: SourceSpec, base_dir: Path | None, given: dict[str, Any]) -> Evaluand:
    return Evaluand(None, function=import_object(spec.name, "evaluator"))


@SOURCES.register("object")
def _object(spec: SourceSpec, base_dir: Path | None, given: dict[str, Any]) -> Evaluand:
    if given.get("supernet") is not None:
        return Evaluand(given["supernet"].space, supernet=given["supernet"])
    if given.get("evaluator") is not None:
        return Evaluand(getattr(given["evaluator"], "space", None), function=given["evaluator"])
    raise StudyError(
        f"this study was created from an in-memory {spec.name or 'object'}; pass supernet= "
        "or evaluator= to Study.load to measure on"
    )


# -- data ------------------------------------------------------------------------------------
@DATA_SOURCES.register("registered")
def _registered(spec: DataSpec, base_dir: Path | None, given: dict[str, Any]) -> Any:
    from hwnas.data import load_dataset

    return load_dataset(spec.name, seed=spec.split_seed or 0, options=spec.options)


def _check_fingerprint(spec: DataSpec, splits: Any, where: str) -> Any:
    found = splits.fingerprint()
    if spec.fingerprint is not None and found != spec.fingerprint:
        raise StudyError(
            f"the data {where} differs from the study's (fingerprint {found[:12]}..., the "
            f"study measured {spec.fingerprint[:12]}...); pass the same arrays, or start a new "
            "study with --overwrite"
        )
    return splits


@DATA_SOURCES.register("npz")
def _npz(spec: DataSpec, base_dir: Path | None, given: dict[str, Any]) -> Any:
    if given.get("data") is not None:
        return _check_fingerprint(spec, as_data_splits(given["data"]), "given")
    path = resolve_path(spec.name, base_dir)
    return _check_fingerprint(spec, as_data_splits(path), f"in {str(path)!r}")


@DATA_SOURCES.register("arrays")
def _arrays(spec: DataSpec, base_dir: Path | None, given: dict[str, Any]) -> Any:
    if given.get("data") is None:
        raise StudyError(
            f"this study measures the user's arrays ({spec.name!r}, fingerprint "
            f"{(spec.fingerprint or '')[:12]}...); pass the same data= to Study.load"
        )
    return _check_fingerprint(spec, as_data_splits(given["data"]), "given")


# -- building ----------------------------------------------------------------------------------
def _figures(spec: EvaluatorSpec) -> list[Objective | Metric]:
    figures: list[Objective | Metric] = []
    for m in spec.measures:
        measure = create_measure(m.kind, m.settings)
        figures.append(Objective(m.key, m.direction, measure) if m.direction
                       else Metric(m.key, measure))
    return figures


def _evaluator(spec: EvaluatorSpec, evaluand: Evaluand, data: Any,
               figures: Sequence[Objective | Metric] | None,
               transform: Transform | None) -> Evaluator:
    if evaluand.supernet is not None:
        if data is not None:
            from hwnas.data import check_input_shape

            check_input_shape(evaluand.supernet, data)
        recalibrate = Recalibrate(**spec.prepare) if spec.prepare is not None else None
        return Pipeline(evaluand.supernet, figures if figures is not None else _figures(spec),
                        data, recalibrate, transform, threads=spec.threads)
    if evaluand.lookup is not None:
        table_metrics = list(evaluand.units or {})
        # a key that names a table figure is that figure ('latency@b1'), else its kind is
        columns = {m.key: m.key if m.key in table_metrics else m.kind for m in spec.measures}
        for m in spec.measures:
            if columns[m.key] not in table_metrics:
                raise InvalidConfigError(
                    f"benchmark {spec.source.name!r} has no {m.kind!r} figure for {m.key!r}; "
                    f"it has {table_metrics}"
                )
            if m.settings and m.settings != create_measure(m.kind).settings():
                raise InvalidConfigError(
                    f"{m.key!r}: a benchmark table was measured once, with its own settings; "
                    f"give {m.kind!r} without settings"
                )
        return LookupEvaluator(evaluand.lookup, columns)
    return CallableEvaluator(evaluand.function)


def _transform(spec: EvaluatorSpec) -> Transform | None:
    if spec.transform is None:
        return None
    return create_transform(spec.transform["name"], spec.transform.get("settings"))


def build_evaluator(spec: EvaluatorSpec, *, base_dir: Path | None = None, supernet: Any = None,
                    evaluator: Any = None, data: Any = None) -> Evaluator:
    """The evaluator a stored spec describes (``supernet``/``evaluator``/``data``: what an
    in-memory study needs handed over again; the data's fingerprint is checked)."""
    given = {"supernet": supernet, "evaluator": evaluator, "data": data}
    evaluand = SOURCES.create(spec.source.kind, spec.source, base_dir, given)
    splits = DATA_SOURCES.create(spec.data.kind, spec.data, base_dir, given) \
        if spec.data is not None else None
    return _evaluator(spec, evaluand, splits, None, _transform(spec))


def build_data(spec: EvaluatorSpec, *, base_dir: Path | None = None, data: Any = None) -> Any:
    """The data a spec measures on (None if it has none)."""
    if spec.data is None:
        return None
    return DATA_SOURCES.create(spec.data.kind, spec.data, base_dir, {"data": data})


# -- from user arguments ------------------------------------------------------------------------
def _checkpoint_data(metadata: dict[str, Any], dataset: str | None,
                     dataset_options: dict[str, Any] | None, split_seed: int | None,
                     base_dir: Path | None) -> DataSpec | None:
    """The data to measure a checkpoint on: the named data set (with the checkpoint's split
    seed and options when it is the one trained on), else the data the checkpoint records."""
    trained_on = metadata.get("dataset")
    trained_seed = metadata.get("split_seed", metadata.get("seed"))
    if dataset is None and trained_on is None:
        recorded = metadata.get("data")
        if isinstance(recorded, dict) and recorded.get("kind") == "npz":
            return DataSpec("npz", store_path(recorded["name"], base_dir),
                            fingerprint=recorded.get("fingerprint"))
        return None
    name = dataset or trained_on
    if name == trained_on:
        if split_seed is not None and trained_seed is not None and split_seed != trained_seed:
            raise InvalidConfigError(
                f"split seed {split_seed} differs from the one the checkpoint was trained with "
                f"({trained_seed}): validation would hold training samples; leave it out"
            )
        options = dataset_options if dataset_options is not None \
            else metadata.get("dataset_options", {})
        seed = trained_seed if trained_seed is not None else (split_seed or 0)
        return DataSpec("registered", name, dict(options), int(seed))
    return DataSpec("registered", name, dict(dataset_options or {}), int(split_seed or 0))


def _data_spec(data: Any, splits: Any, base_dir: Path | None) -> DataSpec:
    if isinstance(data, (str, Path)):
        return DataSpec("npz", store_path(data, base_dir), fingerprint=splits.fingerprint())
    return DataSpec("arrays", splits.name, fingerprint=splits.fingerprint())


def _measure_specs(figures: Sequence[Objective | Metric],
                   units: dict[str, str] | None) -> tuple[MeasureSpec, ...]:
    specs = []
    for figure in figures:
        measure: Measure = figure.measure
        unit = (units or {}).get(measure.name, measure.unit) if units else measure.unit
        specs.append(MeasureSpec(figure.key, measure.name, measure.settings(),
                                 getattr(figure, "direction", None), unit))
    return tuple(specs)


@dataclass
class Created:
    spec: EvaluatorSpec
    evaluator: Evaluator
    space: SearchSpace


def create_evaluator(
    *, base_dir: Path | None, objectives: Sequence[str | Objective],
    metrics: Sequence[str | Metric | Measure] = (), space: SearchSpace | None = None,
    checkpoint: str | Path | None = None, supernet: Any = None,
    supernet_options: dict[str, Any] | None = None, benchmark: str | None = None,
    evaluator: Any = None, data: Any = None, dataset: str | None = None,
    dataset_options: dict[str, Any] | None = None, split_seed: int | None = None,
    recalibrate: Recalibrate | None = DEFAULT_RECALIBRATION, transform: Transform | None = None,
    threads: int = 1,
) -> Created:
    """The spec and evaluator for a new study, refusing what cannot work (an objective the
    source cannot produce, data that does not fit) before anything is stored."""
    preloaded = None
    if checkpoint is not None and supernet is not None and not isinstance(supernet, str):
        preloaded, supernet = supernet, None  # the checkpoint's super-network, already loaded
    given_sources = [name for name, value in (("checkpoint", checkpoint), ("supernet", supernet),
                                              ("benchmark", benchmark),
                                              ("evaluator", evaluator)) if value is not None]
    if len(given_sources) > 1:
        raise InvalidConfigError(f"give one source of sub-networks, got {given_sources}")
    if not given_sources:
        raise StudyError("give the study a checkpoint, a supernet, a benchmark or an "
                         "evaluator (with a space)")
    metadata: dict[str, Any] = {}
    if checkpoint is not None:
        from hwnas.supernets import file_sha256, read_checkpoint

        metadata = read_checkpoint(checkpoint).get("metadata", {})
        source = SourceSpec("checkpoint", store_path(checkpoint, base_dir),
                            sha256=file_sha256(checkpoint))
    elif isinstance(supernet, str):
        source = SourceSpec("factory", supernet, dict(supernet_options or {}))
    elif supernet is not None:
        source = SourceSpec("object", type(supernet).__name__)
    elif benchmark is not None:
        source = SourceSpec("benchmark", benchmark)
    elif isinstance(evaluator, str):
        source = SourceSpec("callable", evaluator)
    else:
        source = SourceSpec("object", getattr(evaluator, "__name__", type(evaluator).__name__))

    splits = None
    if data is not None:
        if dataset is not None:
            raise InvalidConfigError("give either data= (your arrays) or dataset= (a registered "
                                     "name), not both")
        splits = as_data_splits(data)
        data_spec: DataSpec | None = _data_spec(data, splits, base_dir)
    elif checkpoint is not None:
        data_spec = _checkpoint_data(metadata, dataset, dataset_options, split_seed, base_dir)
    elif dataset is not None:
        data_spec = DataSpec("registered", dataset, dict(dataset_options or {}),
                             int(split_seed or 0))
    else:
        data_spec = None

    objective_list = [as_objective(o) for o in objectives]
    if checkpoint is not None and data_spec is None and any(
            f.measure.needs_data for f in [*objective_list, *(as_metric(m) for m in metrics)]):
        raise InvalidConfigError(
            f"checkpoint {str(checkpoint)!r} does not record the data it was trained on; name "
            "it with --dataset NAME or --data FILE.npz (dataset= or data=)"
        )
    objective_keys = {o.key for o in objective_list}
    metric_list = [m for m in (as_metric(m) for m in metrics) if m.key not in objective_keys]
    figures: list[Objective | Metric] = [*objective_list, *metric_list]
    given = {"supernet": supernet if not isinstance(supernet, str) else preloaded,
             "evaluator": evaluator if not isinstance(evaluator, str) else None, "data": data}
    evaluand = SOURCES.create(source.kind, source, base_dir, given)
    if splits is None and data_spec is not None:
        splits = DATA_SOURCES.create(data_spec.kind, data_spec, base_dir, given)
    transform_spec = {"name": transform.name, "settings": transform.settings()} \
        if transform is not None else None
    prepare = recalibrate.settings() if recalibrate is not None and evaluand.supernet is not None \
        else None
    spec = EvaluatorSpec(source, data_spec, _measure_specs(figures, evaluand.units), prepare,
                         transform_spec, threads=check_threads(threads, "threads"))
    built = _evaluator(spec, evaluand, splits, figures, transform)
    if space is None and transform is not None and evaluand.supernet is not None:
        space = transform.search_space(evaluand.space, evaluand.supernet)
    space = space if space is not None else evaluand.space
    if space is None:
        raise StudyError("an evaluator function needs the search space: pass space=")
    return Created(spec, built, space)


__all__ = ["DATA_SOURCES", "SOURCES", "Created", "Evaluand", "Evaluator",
           "build_data", "build_evaluator", "create_evaluator"]

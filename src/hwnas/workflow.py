"""The jobs a user runs, one function each; the CLI is a thin layer over these.

Every job that measures or exports goes through the one evaluation builder
(:mod:`hwnas.evaluation`), so ``search``, ``evaluate`` and ``export`` see the same
sub-network, prepared the same way, on the same split.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.errors import InvalidConfigError, StudyError
from hwnas.evaluation import EvaluatorSpec, MeasureSpec, Pipeline, create_evaluator
from hwnas.evaluation.spec import resolve_path
from hwnas.measure import Measurement, Metric, Objective
from hwnas.measure.objectives import as_metric, as_objective
from hwnas.space import Config, SearchSpace
from hwnas.storage import sqlite_path
from hwnas.study import DEFAULT_METRICS, Study
from hwnas.study.core import _creation_interrupted

DEFAULT_OBJECTIVES = ("accuracy", "latency")


def _user_data(data: Any) -> tuple[Any, dict[str, Any]]:
    """The user's data as DataSplits, and what a checkpoint records about it."""
    from hwnas.data import as_data_splits

    splits = as_data_splits(data)
    if isinstance(data, (str, Path)):
        record = {"kind": "npz", "name": str(Path(data).resolve()),
                  "fingerprint": splits.fingerprint()}
    else:
        record = {"kind": "arrays", "name": splits.name, "fingerprint": splits.fingerprint()}
    return splits, record


def train_supernet(checkpoint: str | Path, *, supernet: str = "elastic_cnn",
                   dataset: str | None = None, data: Any = None,
                   dataset_options: dict[str, Any] | None = None,
                   supernet_options: dict[str, Any] | None = None, epochs: int = 30,
                   batch_size: int = 64, lr: float | None = None, seed: int = 0,
                   threads: int = 1, progress: bool = True, method: str = "sandwich",
                   method_options: dict[str, Any] | None = None, optimizer: str | None = None):
    """Train a super-network (a registered name, an entry point, or
    ``"package.module:factory"``) on a registered data set (split by ``seed``; default
    ``digits``) or on ``data`` (your arrays or an ``.npz`` file), by default with the
    sandwich rule and in-place distillation, and save it to ``checkpoint``; returns the
    training report.

    The checkpoint records the data and the split seed, so a search of it validates on
    samples it was not trained on. ``threads`` sets torch's intra-op threads while training.
    ``method`` picks the training method (``hwnas.training.TRAINING_METHODS``: sandwich,
    progressive, sorted, instatune) with its ``method_options``; ``optimizer`` (sgd, adamw;
    default per super-network) and ``lr`` (default per optimizer), see
    :func:`hwnas.training.train`.
    """
    import torch

    from hwnas.data import load_dataset
    from hwnas.measure.latency import torch_threads
    from hwnas.supernets import create_supernet, data_options, save_checkpoint
    from hwnas.training import train

    if data is not None and dataset is not None:
        raise InvalidConfigError("give either a dataset name or your data, not both")
    record: dict[str, Any] | None = None
    if data is not None:
        splits, record = _user_data(data)
    else:
        dataset = dataset or "digits"
        splits = load_dataset(dataset, seed=seed, options=dataset_options)
    options = {**data_options(supernet, splits.input_shape, splits.num_classes),
               **(supernet_options or {})}
    torch.manual_seed(seed)
    model = create_supernet(supernet, options)
    with torch_threads(threads):
        report = train(model, splits, method=method, method_options=method_options,
                       epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                       seed=seed, progress=progress)
    metadata = {"dataset": dataset, "dataset_options": dataset_options or {},
                "split_seed": seed, "seed": seed, "train_report": report.to_dict()}
    if record is not None:
        metadata["data"] = record
    save_checkpoint(model, checkpoint, supernet, options, metadata)
    return report


# -- search -------------------------------------------------------------------------------------
def _spec_of(objectives: Sequence[str | Objective], metrics: Sequence[str | Metric]
             ) -> tuple[list[tuple], list[tuple]]:
    """Objectives and metrics as comparable ``(key, kind, settings, direction)`` tuples."""
    objective_list = [as_objective(o) for o in objectives]
    keys = {o.key for o in objective_list}
    metric_list = [m for m in (as_metric(m) for m in metrics) if m.key not in keys]
    return ([(o.key, o.measure.name, o.measure.settings(), o.direction) for o in objective_list],
            [(m.key, m.measure.name, m.measure.settings(), None) for m in metric_list])


def _stored(measures: Sequence[MeasureSpec]) -> list[tuple]:
    return [(m.key, m.kind, m.settings, m.direction) for m in measures]


def _show(figures: Sequence[tuple]) -> str:
    return ",".join(f[0] for f in figures)


def check_resume(study: Study, *, checkpoint: str | Path | None = None,
                 supernet: str | None = None, benchmark: str | None = None,
                 data: Any = None, dataset: str | None = None,
                 objectives: Sequence[str | Objective] | None = None,
                 metrics: Sequence[str | Metric] | None = None, strategy: str | None = None,
                 strategy_options: dict[str, Any] | None = None,
                 seed: int | None = None, constraints: Sequence[Any] | None = None,
                 count_infeasible: bool | None = None) -> None:
    """Refuse to resume ``study`` with arguments that differ from those it was created
    with (``None``: not given), naming the first field that differs."""
    spec: EvaluatorSpec = study.spec.evaluation
    source = spec.source
    problems: list[tuple[str, Any, Any]] = []
    if checkpoint is not None:
        stored = (resolve_path(source.name, study.base_dir).resolve()
                  if source.kind == "checkpoint" else f"a {source.kind} source")
        if Path(checkpoint).resolve() != stored:
            problems.append(("checkpoint", stored, Path(checkpoint)))
    if supernet is not None and (source.kind, source.name) != ("factory", supernet):
        problems.append(("supernet", source.name or source.kind, supernet))
    if benchmark is not None and (source.kind, source.name) != ("benchmark", benchmark):
        problems.append(("benchmark", source.name or source.kind, benchmark))
    if dataset is not None and (spec.data is None or spec.data.kind != "registered"
                                or spec.data.name != dataset):
        problems.append(("dataset", spec.data.name if spec.data else None, dataset))
    if data is not None:
        from hwnas.data import as_data_splits

        fingerprint = as_data_splits(data).fingerprint()
        if spec.data is None or spec.data.fingerprint != fingerprint:
            problems.append(("data", spec.data.name if spec.data else None,
                             f"{data} (other arrays)"))
    wanted_objectives, wanted_metrics = _spec_of(objectives or [], metrics or [])
    if objectives is None:
        wanted_metrics = [m for m in wanted_metrics if m[0] not in study.spec.objective_keys]
    if objectives is not None and wanted_objectives != _stored(spec.objectives):
        stored_objectives = _stored(spec.objectives)
        if _show(wanted_objectives) == _show(stored_objectives):
            problems.append(("objective settings", [o.describe() for o in spec.objectives],
                             [f"{o[1]}{o[2]}" for o in wanted_objectives]))
        else:
            problems.append(("objectives", _show(stored_objectives), _show(wanted_objectives)))
    if metrics is not None and wanted_metrics != _stored(spec.metrics):
        problems.append(("metrics", _show(_stored(spec.metrics)), _show(wanted_metrics)))
    for field, stored, given in (("strategy", study.spec.strategy, strategy),
                                 ("strategy options", study.spec.strategy_options,
                                  strategy_options),
                                 ("seed", study.spec.seed, seed),
                                 ("count_infeasible", study.spec.count_infeasible,
                                  count_infeasible)):
        if given is not None and given != stored:
            problems.append((field, stored, given))
    if constraints is not None:
        from hwnas.constraints import parse_constraints

        wanted = sorted(c.to_text() for c in parse_constraints(constraints))
        held = sorted(c.to_text() for c in study.spec.constraints)
        if wanted != held:
            problems.append(("constraints", held or "none", wanted or "none"))
    if problems:
        field, stored, given = problems[0]
        raise StudyError(
            f"study {study.location!r} was created with {field} {stored}, not {given}; "
            "to resume it, leave that option out (or give the stored value); to start a new "
            "study, pass --overwrite"
        )


def run_search(study_path: str | Path, *, checkpoint: str | Path | None = None,
               supernet: str | None = None, benchmark: str | None = None,
               data: Any = None, dataset: str | None = None,
               objectives: Sequence[str | Objective] | None = None,
               metrics: Sequence[str | Metric] | None = None, strategy: str | None = None,
               strategy_options: dict[str, Any] | None = None, n_evaluations: int = 100,
               seed: int | None = None, overwrite: bool = False, retry_failed: bool = False,
               max_consecutive_failures: int = 5, progress: bool = True,
               quantization: bool = False,
               reference_point: dict[str, float] | None = None,
               constraints: Sequence[Any] | None = None,
               count_infeasible: bool | None = None,
               workers: int | None = None, ray_address: str | None = None,
               threads: int | None = None) -> Study:
    """Search a trained super-network (``checkpoint``) or an untrained one (``supernet``,
    e.g. for latency only), or a tabulated ``benchmark`` (every figure looked up; default
    objectives the table's own, default metrics those of ``macs, params, model_size`` it
    has), or resume the study at ``study_path`` if it exists: then every argument given
    must match what the study was created with (``None``: not given).

    ``quantization``: search the per-layer INT8/fp32 policy with the architecture, every
    figure measured on the quantized ONNX Runtime model (:mod:`hwnas.quantization`).

    ``reference_point`` (objective key -> value) declares a new study's hypervolume
    reference point; otherwise one is fixed from the first batch and stored.

    ``constraints`` (``"latency@b1<=2.0"``, ...) bound measured keys (:mod:`hwnas.screening`);
    ``count_infeasible`` counts proposals a cheap constraint ruled out toward
    ``n_evaluations`` (default: only full measurements count).

    Several processes may run this on one study at once (started together on a new study,
    or joining one): the first creates it, the others join, and together they stop at
    ``n_evaluations``. ``workers=N`` measures N sub-networks at once on Ray workers (a local
    Ray runtime, or the cluster at ``ray_address``); needs the ``ray`` extra.

    ``threads``: a new study's thread budget for every evaluation stage (default 1)."""
    path = sqlite_path(study_path)
    resuming = (path is not None and path.exists() and not overwrite
                and not _creation_interrupted(study_path))
    if resuming:
        study = Study.load(study_path, data=data)
        check_resume(study, checkpoint=checkpoint, supernet=supernet, benchmark=benchmark,
                     data=data,
                     dataset=dataset, objectives=objectives, metrics=metrics,
                     strategy=strategy, strategy_options=strategy_options, seed=seed,
                     constraints=constraints, count_infeasible=count_infeasible)
        if threads is not None and threads != study.spec.evaluation.threads:
            raise StudyError(f"study {study.location!r} was created with threads "
                             f"{study.spec.evaluation.threads}, not {threads}; to resume it, "
                             "leave that option out; to start a new study, pass --overwrite")
        if quantization and study.spec.evaluation.transform is None:
            raise StudyError(f"study {study.location!r} searches the architecture only; to "
                             "search the quantization policy too, start a new study "
                             "(--overwrite or another --study)")
    else:
        if checkpoint is None and supernet is None and benchmark is None:
            raise InvalidConfigError(
                "a new study needs --checkpoint (a super-network trained with `hwnas train`), "
                "--supernet (an untrained one, e.g. to search latency only) or --benchmark (a "
                "tabulated one)"
            )
        transform, default_objectives, default_metrics = None, DEFAULT_OBJECTIVES, DEFAULT_METRICS
        if benchmark is not None:
            if quantization:
                raise InvalidConfigError("a tabulated benchmark was measured once, unquantized; "
                                         "search it without --quantization")
            from hwnas.tabular import load_benchmark

            table = load_benchmark(benchmark)
            default_objectives = tuple(key for key, _ in table.default_objectives)
            default_metrics = tuple(m for m in DEFAULT_METRICS if m in table.metrics)
        if quantization:
            from hwnas import quantization as quantized

            transform = quantized.QuantizeTransform()
            default_objectives = quantized.QUANTIZED_OBJECTIVES
            default_metrics = quantized.QUANTIZED_METRICS
        study = Study.create(
            study_path, checkpoint=checkpoint, supernet=supernet, benchmark=benchmark,
            data=data, dataset=dataset,
            objectives=objectives if objectives is not None else default_objectives,
            metrics=metrics if metrics is not None else default_metrics, transform=transform,
            strategy=strategy or "nsga2", strategy_options=strategy_options,
            seed=seed if seed is not None else 0, overwrite=overwrite,
            exist_ok=not overwrite, threads=threads if threads is not None else 1,
            constraints=constraints or (), count_infeasible=bool(count_infeasible),
            reference_point=_reference_list(
                reference_point, objectives if objectives is not None else default_objectives),
        )
    if resuming and reference_point is not None:
        _check_reference(study, reference_point)
    from hwnas.report.machine import record_machine

    record_machine(study)
    study.optimize(n_evaluations, progress=progress, retry_failed=retry_failed,
                   max_consecutive_failures=max_consecutive_failures, workers=workers,
                   ray_address=ray_address)
    return study


def _reference_list(reference: dict[str, float] | None,
                    objectives: Sequence[str | Objective]) -> list[float] | None:
    """A reference point by key as a list in the objectives' order."""
    if reference is None:
        return None
    keys = [as_objective(o).key for o in objectives]
    unknown = sorted(set(reference) - set(keys))
    missing = [k for k in keys if k not in reference]
    if unknown or missing:
        raise InvalidConfigError(
            f"the reference point must give a value for each objective ({', '.join(keys)}): "
            + (f"{unknown} are not objectives" if unknown else f"{missing} are missing")
            + "; e.g. --reference-point " + ",".join(f"{k}=VALUE" for k in keys))
    return [float(reference[k]) for k in keys]


def _check_reference(study: Study, reference: dict[str, float]) -> None:
    stored = study.spec.reference_point
    wanted = _reference_list(reference, study.spec.objective_keys)
    if stored is None or [float(v) for v in stored] != wanted:
        raise StudyError(f"study {study.location!r} was created with reference point "
                         f"{stored or 'fixed from its first batch'}, not {wanted}; leave "
                         "--reference-point out to resume it")


# -- one sub-network ----------------------------------------------------------------------------
def parse_config(text: str) -> Config:
    """A config from JSON text or a JSON file's path."""
    candidate = Path(text)
    if not text.lstrip().startswith("{") and candidate.is_file():
        text = candidate.read_text()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidConfigError(f"the config is not valid JSON ({error}): {text[:80]!r}") from None
    if not isinstance(config, dict):
        raise InvalidConfigError(f"a config is a JSON object, got {type(config).__name__}")
    return config


@dataclass(frozen=True)
class Figure:
    """One measured figure with its key, unit and how it was measured."""

    key: str
    measurement: Measurement
    unit: str
    settings: str


def _figures(measured: dict[str, Measurement], spec: EvaluatorSpec) -> list[Figure]:
    return [Figure(m.key, measured[m.key], m.unit, m.describe()) for m in spec.measures
            if m.key in measured]


def evaluate_trial(study: str | Path | Study, trial: int, *, data: Any = None,
                   supernet: Any = None) -> list[Figure]:
    """Measure trial ``trial`` of a study again, exactly as the study measures (same
    source, data, split, preparation, keys and settings)."""
    loaded = study if isinstance(study, Study) else Study.load(study, data=data,
                                                               supernet=supernet)
    config = loaded.result(trial).config
    return _figures(loaded.evaluator()(config), loaded.spec.evaluation)


def _checkpoint_pipeline(checkpoint: str | Path, *, dataset: str | None, data: Any,
                         measures: Sequence[str | Metric]) -> tuple[Pipeline, EvaluatorSpec]:
    created = create_evaluator(base_dir=None, objectives=(), metrics=measures,
                               checkpoint=checkpoint, dataset=dataset, data=data)
    if not isinstance(created.evaluator, Pipeline):  # pragma: no cover - a checkpoint is one
        raise InvalidConfigError("a checkpoint gives a super-network")
    return created.evaluator, created.spec


def evaluate_config(checkpoint: str | Path, config: Config, *, dataset: str | None = None,
                    data: Any = None,
                    measures: Sequence[str | Metric] = DEFAULT_OBJECTIVES + DEFAULT_METRICS,
                    ) -> list[Figure]:
    """Measure one sub-network of a trained super-network, on the data and split it was
    trained with unless ``dataset``/``data`` say otherwise."""
    pipeline, spec = _checkpoint_pipeline(checkpoint, dataset=dataset, data=data,
                                          measures=measures)
    pipeline.supernet.space.validate(config)
    return _figures(pipeline(config), spec)


def export_subnetwork(out: str | Path, config: Config | None = None, *,
                      checkpoint: str | Path | None = None, study: str | Path | None = None,
                      trial: int | None = None, dataset: str | None = None,
                      data: Any = None, quantization: bool = False) -> Path:
    """Write a sub-network exactly as it is measured (extracted, batch norm recalibrated by
    the evaluation pipeline) to ``out``: ``.pt2`` (``torch.export``, loads with
    ``torch.export.load(path).module()``), ``.onnx`` (dynamic batch axis) or ``.pt``
    (``torch.load(path, weights_only=False)``); see :func:`hwnas.export.write_module`.

    The sub-network is ``config`` of ``checkpoint``, or trial ``trial`` of ``study`` (whose
    stored spec gives the checkpoint, data and split).

    ``quantization`` (with ``checkpoint``): write the INT8 ONNX model the ``quantize``
    transform makes of ``config`` (calibrated on the checkpoint's training split), as a
    quantized study measures it; a layer whose ``quant.*`` gene ``config`` leaves out is
    INT8, so an architecture-only config gives the fully INT8 sub-network. A quantized study
    exports its own way (its stored transform) without the flag."""
    from hwnas.export import write_module

    if study is not None:
        loaded = Study.load(study, data=data)
        if config is None:
            if trial is None:
                raise InvalidConfigError("give --trial N (or --config) with --study")
            config = loaded.result(trial).config
        pipeline = loaded.evaluator()
        if not isinstance(pipeline, Pipeline):
            raise StudyError(f"study {str(study)!r} measures a {loaded.spec.evaluation.source.kind}"
                             ", not a super-network: there is no module to export")
    elif checkpoint is not None:
        if config is None:
            raise InvalidConfigError("give --config with --checkpoint")
        if quantization:
            from hwnas.quantization.export import export_quantized

            return export_quantized(out, checkpoint, config, dataset=dataset, data=data)
        from hwnas.quantization.policy import refuse_policy

        refuse_policy(config)
        pipeline, _ = _checkpoint_pipeline(checkpoint, dataset=dataset, data=data, measures=())
    else:
        raise InvalidConfigError("give --study (with --trial) or --checkpoint (with --config)")
    if study is not None:
        if quantization and pipeline.transform is None:
            raise InvalidConfigError(
                f"study {str(study)!r} was searched without quantization, so there is no "
                "measured quantized model to export; drop --quantization, or export from "
                "--checkpoint with --config and --quantization"
            )
        loaded.spec.space.validate(config)
        if pipeline.transform is not None:  # e.g. quantized: the transformed model as measured
            from hwnas.export import write_transformed

            return write_transformed(pipeline, config, out)
    pipeline.supernet.space.validate(config)
    return write_module(pipeline.prepared(config), pipeline.context.example_inputs, out)


# -- listing what is registered ----------------------------------------------------------------
def describe_plugin(factory: Any) -> str:
    """One line about a registered factory or class: the first sentence of its own
    docstring (for a class, not an inherited one), else of its module's."""
    import inspect
    import re

    doc = factory.__dict__.get("__doc__") if inspect.isclass(factory) else factory.__doc__
    if not doc:
        doc = (inspect.getmodule(factory).__doc__ or "") if inspect.getmodule(factory) else ""
    paragraph = inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")
    paragraph = re.sub(r":\w+:`~?([^`]+)`", lambda m: m.group(1).rsplit(".", 1)[-1],
                       paragraph)
    first = re.split(r"(?<=[.;])\s+(?=[A-Z(])", paragraph, maxsplit=1)[0]
    first = first.rstrip(".;").replace("``", "")
    return first if len(first) <= 110 else first[:109].rstrip() + "…"


def registered_plugins() -> dict[str, list[tuple[str, str]]]:
    """Every registered plug-in by kind (super-networks, including those installed packages
    register, training methods, optimizers, data sets, measures, strategies, predictors,
    tabulated benchmarks), each ``(name, one-line description)``."""
    from hwnas.data import DATASETS
    from hwnas.measure.measures import MEASURES
    from hwnas.predictors.models import PREDICTORS
    from hwnas.strategies import STRATEGIES
    from hwnas.supernets import SUPERNETS, _entry_points
    from hwnas.tabular import BENCHMARKS
    from hwnas.training import OPTIMIZERS, TRAINING_METHODS

    installed = _entry_points()
    supernets = [(n, describe_plugin(SUPERNETS.get(n))) for n in SUPERNETS.names()]
    supernets += [(n, f"installed by {entry.value}") for n, entry in sorted(installed.items())
                  if n not in SUPERNETS]
    listing = {"super-networks": supernets}
    for title, registry in (("training methods", TRAINING_METHODS), ("optimizers", OPTIMIZERS),
                            ("data sets", DATASETS), ("measures", MEASURES),
                            ("strategies", STRATEGIES), ("predictors", PREDICTORS),
                            ("benchmarks", BENCHMARKS)):
        listing[title] = [(n, describe_plugin(registry.get(n))) for n in registry.names()]
    return listing


# -- describing a space -------------------------------------------------------------------------
def space_of(name_or_checkpoint: str | Path) -> tuple[str, SearchSpace]:
    """The search space of a checkpoint file, a study file, a super-network (registered name,
    entry point or import path, built with default options) or a tabulated benchmark."""
    text = str(name_or_checkpoint)
    path = Path(text)
    if path.is_file():
        from hwnas.storage import check_study_file

        try:
            check_study_file(path)
        except StudyError:
            from hwnas.supernets import load_supernet

            return f"checkpoint {text}", load_supernet(path).space
        return f"study {text}", Study.load(path).spec.space
    from hwnas.tabular import BENCHMARKS

    if text in BENCHMARKS:
        from hwnas.tabular import load_benchmark

        return f"benchmark {text}", load_benchmark(text).space
    from hwnas.supernets import create_supernet

    return f"super-network {text}", create_supernet(text).space


# -- quickstart ---------------------------------------------------------------------------------
#: a batch of 16 makes latency follow the widths too, not only the number of layers
QUICKSTART_OBJECTIVES = ("accuracy", "latency:latency:batch_size=16")


@dataclass(frozen=True)
class QuickstartResult:
    study: Study
    train_report: Any
    seconds: float
    files: dict[str, Path]


def quickstart(out_dir: str | Path = "runs/quickstart", *, n_evaluations: int = 200,
               epochs: int = 30, seed: int = 0, progress: bool = True) -> QuickstartResult:
    """Train the built-in elastic CNN on digits, search accuracy vs latency with NSGA-II,
    and write the study, the front (CSV) and its plot (PNG) into ``out_dir``."""
    from hwnas.report import plot_front, write_front_csv

    start = time.perf_counter()
    out_dir = Path(out_dir)
    checkpoint = out_dir / "supernet.pt"
    report = train_supernet(checkpoint, supernet="elastic_cnn", dataset="digits",
                            epochs=epochs, seed=seed, progress=progress)
    study = run_search(out_dir / "study.db", checkpoint=checkpoint,
                       objectives=QUICKSTART_OBJECTIVES, n_evaluations=n_evaluations,
                       seed=seed, overwrite=True, strategy_options={"population_size": 20},
                       progress=progress)
    files = {"checkpoint": checkpoint, "study": out_dir / "study.db",
             "front_csv": write_front_csv(study, out_dir / "pareto_front.csv"),
             "front_png": plot_front(study, out_dir / "pareto_front.png")}
    return QuickstartResult(study, report, time.perf_counter() - start, files)

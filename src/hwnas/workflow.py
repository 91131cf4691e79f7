"""The jobs a user runs, one function each; the CLI is a thin layer over these."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hwnas.errors import CheckpointError, InvalidConfigError
from hwnas.measure import Evaluator, Measurement, create_measure
from hwnas.space import Config
from hwnas.storage import sqlite_path
from hwnas.study import DEFAULT_METRICS, Study
from hwnas.supernets import (
    ElasticSupernet,
    create_supernet,
    load_supernet,
    read_checkpoint,
    save_checkpoint,
)


def train_supernet(checkpoint: str | Path, *, supernet: str = "elastic_cnn",
                   dataset: str = "digits", dataset_options: dict[str, Any] | None = None,
                   epochs: int = 30, batch_size: int = 64, lr: float = 0.1, seed: int = 0,
                   threads: int = 1, progress: bool = True):
    """Train the registered super-network on the dataset (sandwich rule with in-place
    distillation) and save it to ``checkpoint``; returns the training report.

    ``threads`` sets torch's intra-op threads while training: small networks on small
    batches gain nothing from more, and oversubscribed cores slow training tenfold.
    """
    from hwnas.data import load_dataset
    from hwnas.measure.latency import torch_threads
    from hwnas.training import train_sandwich

    data = load_dataset(dataset, seed=seed, options=dataset_options)
    options = {"in_channels": data.input_shape[0], "input_size": data.input_shape[-1],
               "num_classes": data.num_classes}
    torch.manual_seed(seed)
    model = create_supernet(supernet, options)
    with torch_threads(threads):
        report = train_sandwich(model, data, epochs=epochs, batch_size=batch_size, lr=lr,
                                seed=seed, progress=progress)
    save_checkpoint(model, checkpoint, supernet, options,
                    {"dataset": dataset, "dataset_options": dataset_options or {},
                     "seed": seed, "train_report": report.to_dict()})
    return report


def checkpoint_dataset(checkpoint: str | Path,
                       dataset: str | None = None) -> tuple[str | None, dict[str, Any]]:
    """The dataset to use with a checkpoint, and its options: ``dataset`` if one is named
    (with default options, unless it is the one trained on), else the one the checkpoint's
    metadata says it was trained on (None if it does not say)."""
    metadata = read_checkpoint(checkpoint).get("metadata", {})
    trained_on = metadata.get("dataset")
    if dataset is None or dataset == trained_on:
        return trained_on, metadata.get("dataset_options", {})
    return dataset, {}


def load_for_dataset(checkpoint: str | Path, dataset: str | None = None):
    """The checkpoint's super-network, the dataset's splits and the dataset options used
    (see :func:`checkpoint_dataset`), refusing a pair that does not fit."""
    from hwnas.data import load_dataset

    name, options = checkpoint_dataset(checkpoint, dataset)
    if name is None:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} does not record the dataset it was trained on; "
            "name one with --dataset"
        )
    supernet = load_supernet(checkpoint)
    data = load_dataset(name, options=options)
    if tuple(supernet.input_shape) != tuple(data.input_shape):
        trained_on, _ = checkpoint_dataset(checkpoint)
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} takes inputs of shape {tuple(supernet.input_shape)} "
            f"(trained on {trained_on!r}) but dataset {name!r} has {tuple(data.input_shape)}; "
            "use the dataset it was trained on, or train a checkpoint for this one"
        )
    return supernet, data, options


def run_search(study_path: str | Path, *, checkpoint: str | Path | None = None,
               dataset: str | None = None, objectives: Sequence[str] = ("accuracy", "latency"),
               metrics: Sequence[str] = DEFAULT_METRICS, strategy: str = "nsga2",
               strategy_options: dict[str, Any] | None = None,
               measure_options: dict[str, dict[str, Any]] | None = None,
               n_evaluations: int = 100, seed: int = 0, overwrite: bool = False,
               progress: bool = True) -> Study:
    """Search a trained super-network, or resume the study at ``study_path`` if it exists."""
    path = sqlite_path(study_path)
    if path is not None and path.exists() and not overwrite:
        study = Study.load(study_path)
    else:
        if checkpoint is None:
            raise InvalidConfigError(
                "a new study needs --checkpoint (a super-network trained with `hwnas train`)"
            )
        supernet, data, dataset_options = load_for_dataset(checkpoint, dataset)
        options = measure_options or {}
        unknown = sorted(set(options) - set(objectives) - set(metrics))
        if unknown:
            raise InvalidConfigError(
                f"options given for {unknown}, which are neither objectives nor metrics here"
            )
        from hwnas.measure import Objective

        study = Study.create(
            study_path, supernet=supernet, checkpoint=checkpoint, dataset=data.name,
            dataset_options=dataset_options,
            objectives=[Objective.named(o, settings=options.get(o)) for o in objectives],
            metrics=[create_measure(m, options.get(m)) for m in metrics],
            strategy=strategy, strategy_options=strategy_options, seed=seed,
            overwrite=overwrite,
        )
    study.optimize(n_evaluations, progress=progress)
    return study


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


def evaluate_config(checkpoint: str | Path, config: Config, *, dataset: str | None = None,
                    measures: Sequence[str] = ("accuracy", "latency") + DEFAULT_METRICS,
                    ) -> dict[str, Measurement]:
    """Measure one sub-network of a trained super-network."""
    supernet, data, _ = load_for_dataset(checkpoint, dataset)
    supernet.space.validate(config)
    evaluator = Evaluator(supernet, [create_measure(m) for m in measures], data)
    return evaluator(config)


def export_subnetwork(checkpoint: str | Path, config: Config, out: str | Path,
                      calibrate_on: str | None = None) -> Path:
    """Write the sub-network as a plain PyTorch module (``.pt``, loads with ``torch.load``
    and no hwnas) or an ONNX file (``.onnx``), after batch-norm recalibration."""
    from hwnas.data import load_dataset
    from hwnas.measure.accuracy import recalibrate_batchnorm
    from hwnas.measure.latency import export_onnx

    out = Path(out)
    if out.suffix not in (".pt", ".onnx"):
        raise InvalidConfigError(f"export to a .pt or .onnx file, got {str(out)!r}")
    supernet: ElasticSupernet = load_supernet(checkpoint)
    supernet.space.validate(config)
    model = supernet.extract(config)
    dataset, options = checkpoint_dataset(checkpoint, calibrate_on)
    if dataset is not None:
        data = load_dataset(dataset, options=options)
        recalibrate_batchnorm(model, list(data.train_x[:512].split(64)))
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".pt":
        torch.save(model, out)
    else:
        out.write_bytes(export_onnx(model, supernet.example_input(1)))
    return out


#: a batch of 16 makes latency follow the widths too, not only the number of layers
QUICKSTART_MEASURES = {"latency": {"batch_size": 16}}


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
    study = run_search(out_dir / "study.db", checkpoint=checkpoint, dataset="digits",
                       n_evaluations=n_evaluations, seed=seed, overwrite=True,
                       strategy_options={"population_size": 20},
                       measure_options=QUICKSTART_MEASURES, progress=progress)
    files = {"checkpoint": checkpoint, "study": out_dir / "study.db",
             "front_csv": write_front_csv(study, out_dir / "pareto_front.csv"),
             "front_png": plot_front(study, out_dir / "pareto_front.png")}
    return QuickstartResult(study, report, time.perf_counter() - start, files)

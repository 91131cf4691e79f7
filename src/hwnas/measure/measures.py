"""The registry of measures, and the accuracy measure over a dataset split."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hwnas.errors import HwnasError, InvalidConfigError
from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.counting import MacsMeasure, ModelSizeMeasure, ParamsMeasure
from hwnas.measure.latency import LatencyMeasure
from hwnas.registry import Registry

MEASURES: Registry[Measure] = Registry("objective")


class AccuracyMeasure(Measure):
    """Top-1 accuracy on a split, after recalibrating batch-norm statistics on training
    batches (as Once-for-All): shared statistics do not fit any one sub-network."""

    name, unit, direction = "accuracy", "fraction", "maximize"

    def __init__(self, split: str = "val", calibration_batches: int = 8,
                 calibration_batch_size: int = 64, seed: int = 0) -> None:
        if split not in ("val", "test", "train"):
            raise InvalidConfigError(f"accuracy split must be val, test or train; got {split!r}")
        self.split, self.seed = split, seed
        self.calibration_batches = calibration_batches
        self.calibration_batch_size = calibration_batch_size

    def settings(self) -> dict[str, Any]:
        return {"split": self.split, "calibration_batches": self.calibration_batches,
                "calibration_batch_size": self.calibration_batch_size, "seed": self.seed}

    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        from hwnas.measure.accuracy import evaluate_accuracy, recalibrate_batchnorm

        data = context.data
        if data is None:
            raise HwnasError("the accuracy objective needs a dataset; pass data= to the evaluator")
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(data.train_x), generator=generator)
        size = self.calibration_batch_size
        batches = [data.train_x[order[i * size:(i + 1) * size]]
                   for i in range(self.calibration_batches) if i * size < len(order)]
        recalibrate_batchnorm(model, batches)
        x, y = getattr(data, f"{self.split}_x"), getattr(data, f"{self.split}_y")
        return Measurement(float(evaluate_accuracy(model, x, y)))


MEASURES.register("accuracy")(AccuracyMeasure)
MEASURES.register("latency")(LatencyMeasure)
MEASURES.register("macs")(MacsMeasure)
MEASURES.register("params")(ParamsMeasure)
MEASURES.register("model_size")(ModelSizeMeasure)


def create_measure(name: str, settings: dict[str, Any] | None = None) -> Measure:
    """The registered measure ``name`` built with ``settings`` (its constructor's options)."""
    return MEASURES.create(name, **(settings or {}))

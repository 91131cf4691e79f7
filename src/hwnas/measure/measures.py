"""The registry of measure kinds, and the accuracy measure over a data split."""

from __future__ import annotations

from typing import Any

from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.counting import MacsMeasure, ModelSizeMeasure, ParamsMeasure
from hwnas.measure.latency import LatencyMeasure
from hwnas.registry import Registry

MEASURES: Registry[Measure] = Registry("measure")

SPLITS = ("val", "test", "train")


class AccuracyMeasure(Measure):
    """Top-1 accuracy on a split of the data. The pipeline has already recalibrated the
    sub-network's batch-norm statistics (:mod:`hwnas.measure.prepare`)."""

    name, unit, direction = "accuracy", "fraction", "maximize"
    needs_data = True

    def __init__(self, split: str = "val", batch_size: int = 512) -> None:
        if split not in SPLITS:
            raise InvalidConfigError(f"accuracy split must be one of {list(SPLITS)}; "
                                     f"got {split!r}")
        if batch_size < 1:
            raise InvalidConfigError(f"accuracy batch_size must be >= 1, got {batch_size}")
        self.split, self.batch_size = split, batch_size

    def settings(self) -> dict[str, Any]:
        return {"split": self.split, "batch_size": self.batch_size}

    def __call__(self, artifact: nn.Module, context: MeasureContext) -> Measurement:
        from hwnas.measure.accuracy import evaluate_accuracy

        data = context.data
        if data is None:
            raise InvalidConfigError("the accuracy measure needs data; give the study data= "
                                     "(arrays or a DataSplits) or dataset= (a registered name)")
        x, y = getattr(data, f"{self.split}_x"), getattr(data, f"{self.split}_y")
        if y is None or len(y) == 0:
            raise InvalidConfigError(f"the data has no {self.split!r} split to measure "
                                     "accuracy on; give it one or choose another split")
        return Measurement(float(evaluate_accuracy(artifact, x, y, self.batch_size,
                                                   context.supernet)))


MEASURES.register("accuracy")(AccuracyMeasure)
MEASURES.register("latency")(LatencyMeasure)
MEASURES.register("macs")(MacsMeasure)
MEASURES.register("params")(ParamsMeasure)
MEASURES.register("model_size")(ModelSizeMeasure)


def create_measure(kind: str, settings: dict[str, Any] | None = None) -> Measure:
    """The registered measure ``kind`` built with ``settings`` (its constructor's options)."""
    return MEASURES.create(kind, **(settings or {}))

"""Measures of a sub-network (accuracy, latency on torch / onnxruntime, MACs, parameters,
model size), objectives and metrics by key, and batch-norm recalibration."""

from __future__ import annotations

from typing import Any

from hwnas.measure.base import ARTIFACTS, Measure, MeasureContext, Measurement
from hwnas.measure.counting import count_macs, count_params, model_size_bytes
from hwnas.measure.latency import LatencyMeasure
from hwnas.measure.measures import MEASURES, AccuracyMeasure, create_measure
from hwnas.measure.objectives import Metric, Objective
from hwnas.measure.onnx import export_onnx
from hwnas.measure.prepare import Recalibrate, recalibrate_batchnorm


def __getattr__(name: str) -> Any:
    if name == "Evaluator":  # the evaluation pipeline lives in hwnas.evaluation
        from hwnas.evaluation import Pipeline

        return Pipeline
    raise AttributeError(f"module 'hwnas.measure' has no attribute {name!r}")


__all__ = ["ARTIFACTS", "MEASURES", "AccuracyMeasure", "LatencyMeasure", "Measure",
           "MeasureContext", "Measurement", "Metric", "Objective", "Recalibrate",
           "count_macs", "count_params", "create_measure", "export_onnx", "model_size_bytes",
           "recalibrate_batchnorm"]

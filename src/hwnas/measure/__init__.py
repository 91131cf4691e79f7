"""Objectives: accuracy, latency (torch / onnxruntime), MACs, parameters, model size."""

from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.counting import count_macs, count_params, model_size_bytes
from hwnas.measure.evaluator import Evaluator, Objective
from hwnas.measure.latency import LatencyMeasure, export_onnx
from hwnas.measure.measures import MEASURES, AccuracyMeasure, create_measure

__all__ = ["MEASURES", "AccuracyMeasure", "Evaluator", "LatencyMeasure", "Measure",
           "MeasureContext", "Measurement", "Objective", "count_macs", "count_params",
           "create_measure", "export_onnx", "model_size_bytes"]

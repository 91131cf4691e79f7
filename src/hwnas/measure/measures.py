"""The registry of measure kinds, the accuracy measure over a data split (on the torch
module or an ONNX Runtime session), and the ONNX model's size and INT8 layer count."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.counting import MacsMeasure, ModelSizeMeasure, ParamsMeasure
from hwnas.measure.latency import LatencyMeasure
from hwnas.measure.latency_table import LatencyTableMeasure
from hwnas.registry import Registry

MEASURES: Registry[Measure] = Registry("measure")

SPLITS = ("val", "test", "train")


ACCURACY_BACKENDS = ("torch", "onnxruntime")


class AccuracyMeasure(Measure):
    """Top-1 accuracy on a split of the data. The pipeline has already recalibrated the
    sub-network's batch-norm statistics (:mod:`hwnas.measure.prepare`).

    ``backend="torch"`` runs the torch module; ``"onnxruntime"`` runs the ONNX Runtime
    session (what a quantize transform leaves: the INT8 model itself is measured)."""

    name, unit, direction = "accuracy", "fraction", "maximize"
    needs_data = True

    def __init__(self, split: str = "val", batch_size: int = 512,
                 backend: str = "torch") -> None:
        if split not in SPLITS:
            raise InvalidConfigError(f"accuracy split must be one of {list(SPLITS)}; "
                                     f"got {split!r}")
        if batch_size < 1:
            raise InvalidConfigError(f"accuracy batch_size must be >= 1, got {batch_size}")
        if backend not in ACCURACY_BACKENDS:
            raise InvalidConfigError(f"unknown accuracy backend {backend!r}; choose one of "
                                     f"{list(ACCURACY_BACKENDS)}")
        self.split, self.batch_size, self.backend = split, batch_size, backend

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"split": self.split, "batch_size": self.batch_size}
        if self.backend != "torch":  # stored specs of torch accuracy stay as they were
            settings["backend"] = self.backend
        return settings

    @property
    def consumes(self) -> str:
        return "session" if self.backend == "onnxruntime" else "module"

    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        from hwnas.measure.accuracy import evaluate_accuracy

        data = context.data
        if data is None:
            raise InvalidConfigError("the accuracy measure needs data; give the study data= "
                                     "(arrays or a DataSplits) or dataset= (a registered name)")
        x, y = getattr(data, f"{self.split}_x"), getattr(data, f"{self.split}_y")
        if y is None or len(y) == 0:
            raise InvalidConfigError(f"the data has no {self.split!r} split to measure "
                                     "accuracy on; give it one or choose another split")
        if self.backend == "onnxruntime":
            if isinstance(artifact, nn.Module):  # called directly on a module: export it
                from hwnas.measure.onnx import export_onnx, onnx_session

                artifact = onnx_session(export_onnx(artifact, context.example_inputs))
            return Measurement(session_accuracy(artifact, x, y, self.batch_size,
                                                context.supernet))
        return Measurement(float(evaluate_accuracy(artifact, x, y, self.batch_size,
                                                   context.supernet)))


def session_predictions(session: Any, x: Any, batch_size: int = 512,
                        supernet: Any = None) -> torch.Tensor:
    """Class indices an ONNX Runtime ``session`` gives for inputs ``x`` (decoded by the
    super-network's ``predictions`` hook, as for a torch module)."""
    from hwnas.measure.onnx import onnx_feed
    from hwnas.supernets import io

    predicted = []
    for start in range(0, io.batch_size_of(x), batch_size):
        outputs = session.run(None, onnx_feed(io.slice_inputs(x, slice(start, start + batch_size))))
        tensors = [torch.from_numpy(o) for o in outputs]
        predicted.append(io.predictions(supernet, tensors[0] if len(tensors) == 1
                                        else tuple(tensors)))
    return torch.cat(predicted)


def session_accuracy(session: Any, x: Any, y: torch.Tensor, batch_size: int = 512,
                     supernet: Any = None) -> float:
    """The fraction of ``x`` that an ONNX Runtime ``session`` labels ``y``."""
    from hwnas.supernets import io

    count = io.batch_size_of(x)
    if count == 0 or count != len(y):
        raise InvalidConfigError(f"accuracy needs as many labels as inputs, at least one; got "
                                 f"{count} inputs and {len(y)} labels")
    return float((session_predictions(session, x, batch_size, supernet) == y).sum()) / count


def _onnx_bytes(artifact: Any, context: MeasureContext) -> bytes:
    """The ONNX bytes of an ``onnx`` artifact, or of a module handed over directly."""
    if isinstance(artifact, nn.Module):
        from hwnas.measure.onnx import export_onnx

        return export_onnx(artifact, context.example_inputs)
    return artifact


class OnnxSizeMeasure(Measure):
    """Bytes of the ONNX model as measured (after any transform: the quantized file)."""

    name, unit, direction = "onnx_size", "bytes", "minimize"

    @property
    def consumes(self) -> str:
        return "onnx"

    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        return Measurement(float(len(_onnx_bytes(artifact, context))))


class Int8LayersMeasure(Measure):
    """Layers (Conv/Gemm/MatMul nodes with a weight) that run in INT8 in the ONNX model,
    counted from the graph itself."""

    name, unit, direction = "int8_layers", "layers", "minimize"

    @property
    def consumes(self) -> str:
        return "onnx"

    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        from hwnas.errors import require
        from hwnas.quantization.mapping import quantized_nodes

        model = require("onnx", "onnx").load_from_string(_onnx_bytes(artifact, context))
        return Measurement(float(len(quantized_nodes(model))))


MEASURES.register("accuracy")(AccuracyMeasure)
MEASURES.register("latency")(LatencyMeasure)
MEASURES.register("latency_table")(LatencyTableMeasure)
MEASURES.register("macs")(MacsMeasure)
MEASURES.register("params")(ParamsMeasure)
MEASURES.register("model_size")(ModelSizeMeasure)
MEASURES.register("onnx_size")(OnnxSizeMeasure)
MEASURES.register("int8_layers")(Int8LayersMeasure)


def create_measure(kind: str, settings: dict[str, Any] | None = None) -> Measure:
    """The registered measure ``kind`` built with ``settings`` (its constructor's options)."""
    return MEASURES.create(kind, **(settings or {}))

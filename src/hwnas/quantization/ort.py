"""Real INT8 quantization with ONNX Runtime: pre-processing, calibration, static QDQ (CNNs)
and dynamic MatMul quantization (transformers).

``quantize_static(quant_format=QDQ, per_channel=True, activation_type=QInt8,
weight_type=QInt8, nodes_to_exclude=<the layers kept in fp32>)`` after ``quant_pre_process``
(shape inference and ORT's graph optimisation, done once here as the ONNX Runtime docs
advise), calibrated (MinMax) on a fixed, seeded subset of the training split. ORT fuses the
QDQ pairs into ``QLinearConv``/``QGemm`` when the session is built.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnas.errors import InvalidConfigError, require
from hwnas.measure.onnx import onnx_feed
from hwnas.supernets import io

Feed = dict[str, np.ndarray]


def calibration_feeds(train_x: io.Inputs, samples: int, batch_size: int,
                      seed: int) -> list[Feed]:
    """ONNX Runtime feeds over ``samples`` training inputs drawn without replacement by
    ``seed`` (the same ones on every call), in batches of ``batch_size``."""
    count = io.batch_size_of(train_x) if train_x is not None else 0
    if count == 0 or samples < 1:
        raise InvalidConfigError(
            f"the calibration set is empty ({count} training samples, {samples} asked for); "
            "quantization calibrates activation ranges on the training split: give data "
            "with training samples and calibration_samples >= 1"
        )
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(count, generator=generator)[:samples].sort().values
    subset = io.slice_inputs(train_x, chosen)
    feeds = []
    for start in range(0, len(chosen), batch_size):
        feeds.append(onnx_feed(io.slice_inputs(subset, slice(start, start + batch_size))))
    return feeds


def _reader(feeds: Sequence[Feed]) -> Any:
    quantization = require("onnxruntime.quantization", "onnx")

    class Reader(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(feeds)

        def get_next(self) -> Feed | None:
            return next(self._feeds, None)

    return Reader()


def preprocess(onnx_bytes: bytes) -> bytes:
    """``quant_pre_process``: symbolic and ONNX shape inference plus ORT's basic graph
    optimisation (Conv+BatchNorm fusion, constant folding); node names are kept."""
    shape_inference = require("onnxruntime.quantization.shape_inference", "onnx")
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "model.onnx"), Path(folder, "pre.onnx")
        source.write_bytes(onnx_bytes)
        shape_inference.quant_pre_process(str(source), str(target))
        return target.read_bytes()


def quantize_static_qdq(preprocessed: bytes, feeds: Sequence[Feed], exclude: Sequence[str],
                        per_channel: bool = True) -> bytes:
    """Static INT8 (S8S8, QDQ) of a pre-processed model, leaving the nodes in ``exclude``
    in fp32."""
    quantization = require("onnxruntime.quantization", "onnx")
    if not feeds:
        raise InvalidConfigError("the calibration set is empty; give training samples")
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "pre.onnx"), Path(folder, "int8.onnx")
        source.write_bytes(preprocessed)
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # ORT logs a hint per call at WARNING
        try:
            quantization.quantize_static(
                str(source), str(target), _reader(feeds),
                quant_format=quantization.QuantFormat.QDQ, per_channel=per_channel,
                activation_type=quantization.QuantType.QInt8,
                weight_type=quantization.QuantType.QInt8,
                calibrate_method=quantization.CalibrationMethod.MinMax,
                nodes_to_exclude=list(exclude))
        finally:
            logging.getLogger().setLevel(quiet)
        return target.read_bytes()


def gemm_as_matmul(model_bytes: bytes) -> bytes:
    """Each ``Gemm`` with a constant weight as ``MatMul`` (+ ``Add`` of its bias), under the
    same name scope, so dynamic quantization (which has no Gemm) covers 2-D linears too."""
    onnx = require("onnx", "onnx")
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    nodes = []
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = (attributes.get("alpha", 1.0) == 1.0 and attributes.get("beta", 1.0) == 1.0
                 and not attributes.get("transA", 0))
        if node.op_type != "Gemm" or node.input[1] not in weights or not plain:
            nodes.append(node)
            continue
        scope = node.name.rsplit("/", 1)[0]
        weight = numpy_helper.to_array(weights[node.input[1]])
        if attributes.get("transB", 0):
            weight = weight.T
        name = f"{node.input[1]}_as_matmul"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight), name))
        product = node.output[0] if len(node.input) < 3 else f"{scope}/MatMul_output_0"
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product],
                                      name=f"{scope}/MatMul"))
        if len(node.input) >= 3:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                          name=f"{scope}/Add"))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model.SerializeToString()


def quantize_dynamic_matmul(preprocessed: bytes, exclude: Sequence[str]) -> bytes:
    """Dynamic INT8 of the MatMuls with a constant weight (``MatMulInteger``; activations
    quantized at run time, so no calibration), leaving the nodes in ``exclude`` in fp32: what
    speeds transformers up on CPU (static QDQ does not)."""
    quantization = require("onnxruntime.quantization", "onnx")
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "pre.onnx"), Path(folder, "int8.onnx")
        source.write_bytes(preprocessed)
        quantization.quantize_dynamic(str(source), str(target), op_types_to_quantize=["MatMul"],
                                      weight_type=quantization.QuantType.QInt8,
                                      nodes_to_exclude=list(exclude))
        return target.read_bytes()


__all__ = ["calibration_feeds", "gemm_as_matmul", "preprocess", "quantize_dynamic_matmul",
           "quantize_static_qdq"]

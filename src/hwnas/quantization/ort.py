"""Real INT8 quantization with ONNX Runtime: pre-processing, calibration, static QDQ.

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


__all__ = ["calibration_feeds", "preprocess", "quantize_static_qdq"]

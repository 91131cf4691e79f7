"""Sub-networks as ONNX: export with a dynamic batch axis, and ONNX Runtime sessions.

Inputs are named after their place in the super-network's example inputs: ``input`` for
one tensor, ``input0``, ``input1``, ... for a tuple, the keys for a dict; outputs
``output`` (``output0``, ... for several). Every input and output has a dynamic batch axis.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from torch import nn

from hwnas.errors import require
from hwnas.supernets import io


def input_names(inputs: io.Inputs) -> list[str]:
    if isinstance(inputs, Mapping):
        return list(inputs)
    if isinstance(inputs, tuple):
        return [f"input{i}" for i in range(len(inputs))]
    return ["input"]


def onnx_feed(inputs: io.Inputs) -> dict[str, np.ndarray]:
    """The inputs as an ONNX Runtime feed (names as :func:`export_onnx` gives them)."""
    if isinstance(inputs, Mapping):
        tensors = list(inputs.values())
    elif isinstance(inputs, tuple):
        tensors = list(inputs)
    else:
        tensors = [inputs]
    return {name: t.detach().cpu().numpy() for name, t in zip(input_names(inputs), tensors)}


def export_onnx(model: nn.Module, example_inputs: io.Inputs) -> bytes:
    """The model as ONNX bytes with a dynamic batch axis: the same writer as
    :func:`hwnas.export.write_module`'s ``.onnx`` (one implementation)."""
    from hwnas.export import onnx_bytes

    return onnx_bytes(model, example_inputs)


def onnx_session(onnx_bytes: bytes, threads: int = 1):
    """An ONNX Runtime CPU session over ``onnx_bytes`` with ``threads`` intra-op threads."""
    ort = require("onnxruntime", "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


__all__ = ["export_onnx", "input_names", "onnx_feed", "onnx_session"]

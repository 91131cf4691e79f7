"""Writing a sub-network to a file that needs nothing of hwnas to run.

Three formats, chosen by the file's suffix:

- ``.pt2``: a ``torch.export`` program, the recommended PyTorch format. Load it with
  ``torch.export.load(path).module()``: safe (no pickle) and needs neither hwnas nor the
  super-network's code; the batch dimension is dynamic.
- ``.onnx``: ONNX (opset 17) with a dynamic batch axis on every input and output, for ONNX
  Runtime and other inference engines.
- ``.pt``: the module pickled whole with ``torch.save``. Load it with
  ``torch.load(path, weights_only=False)``; unpickling needs the classes the module is made
  of (plain ``torch.nn`` layers for the built-in super-networks), and a pickle should only
  be loaded from a source you trust, hence torch's ``weights_only=True`` default refuses it.

What is written is the module it is given; the caller passes the sub-network exactly as it
was measured (extracted and batch-norm recalibrated by the evaluation pipeline). A study
whose pipeline transforms the sub-network (quantization) measures the transformed ONNX
model: :func:`write_transformed` writes that one.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.files import atomic_write
from hwnas.supernets.io import Inputs, batch_of

FORMATS = (".pt2", ".onnx", ".pt")
ONNX_OPSET = 17


def write_module(module: nn.Module, example_inputs: Inputs, out: str | Path) -> Path:
    """Write ``module`` (in eval mode) to ``out``; the suffix picks the format (see the
    module's docstring). ``example_inputs`` is one batch of inputs (a tensor, tuple or dict)
    used to trace the module. The file is written to a temporary name and renamed."""
    out = Path(out)
    if out.suffix not in FORMATS:
        raise InvalidConfigError(
            f"cannot export to {str(out)!r}: use a file ending in {', '.join(FORMATS)} "
            "(.pt2 = torch.export, the recommended PyTorch format)"
        )
    module = module.eval()
    if out.suffix == ".onnx":
        payload = onnx_bytes(module, example_inputs)
    else:
        payload = _torch_bytes(module, example_inputs, exported=out.suffix == ".pt2")
    _write_atomically(payload, out)
    return out


def write_transformed(pipeline: Any, config: dict[str, Any], out: str | Path) -> Path:
    """Write the ONNX model a pipeline's transform makes of ``config`` (the INT8 model of a
    quantized study) exactly as it is measured: the same bytes the measures saw. ``hwnas
    export`` then re-measures its accuracy on the file (:func:`hwnas.pick.verify_export`)."""
    out = Path(out)
    if out.suffix != ".onnx":
        raise InvalidConfigError(
            f"cannot export to {str(out)!r}: this study measures the {pipeline.transform.name!r}"
            " transform's ONNX model (e.g. INT8); write it to a file ending in .onnx"
        )
    _write_atomically(pipeline.artifacts(config).onnx, out)
    return out


def _write_atomically(payload: bytes, out: Path) -> None:
    atomic_write(out, lambda stream: stream.write(payload))


def onnx_bytes(module: nn.Module, example_inputs: Inputs, dynamic_batch: bool = True) -> bytes:
    """``module`` as ONNX bytes (TorchScript-based exporter: no extra dependency). Inputs
    are named ``input`` (one tensor), ``input0, input1, ...`` (a tuple) or by their keys (a
    dict); outputs ``output`` (or ``output0, ...``); with ``dynamic_batch`` the first
    dimension of each is named ``batch`` and may take any size."""
    args, kwargs, input_names = _arguments(example_inputs)
    with torch.no_grad():
        outputs = module(*args, **kwargs)
    count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
    output_names = ["output"] if count == 1 else [f"output{i}" for i in range(count)]
    dynamic_axes = ({name: {0: "batch"} for name in input_names + output_names}
                    if dynamic_batch else None)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, not removed
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, kwargs=kwargs or None, dynamo=False,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=ONNX_OPSET)
    return buffer.getvalue()


def _torch_bytes(module: nn.Module, example_inputs: Inputs, exported: bool) -> bytes:
    buffer = io.BytesIO()
    if not exported:
        torch.save(module, buffer)
        return buffer.getvalue()
    # a batch of 2: torch.export specialises a dimension traced at size 1
    args, kwargs, _ = _arguments(batch_of(example_inputs, 2))
    batch = torch.export.Dim("batch")
    dynamic = ({key: {0: batch} for key in kwargs} if kwargs
               else tuple({0: batch} for _ in args))
    try:
        program = torch.export.export(module, args, kwargs=kwargs or None,
                                      dynamic_shapes=dynamic)
    except Exception as error:  # noqa: BLE001 - torch.export raises many kinds
        raise InvalidConfigError(
            f"torch.export could not trace this sub-network ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); export it as .onnx or .pt"
        ) from None
    torch.export.save(program, buffer)
    return buffer.getvalue()


def _arguments(inputs: Inputs) -> tuple[tuple, dict, list[str]]:
    """Positional arguments, keyword arguments and input names for ``inputs``."""
    if isinstance(inputs, Mapping):
        return (), dict(inputs), list(inputs)
    if isinstance(inputs, tuple):
        return inputs, {}, [f"input{i}" for i in range(len(inputs))]
    return (inputs,), {}, ["input"]


__all__ = ["FORMATS", "ONNX_OPSET", "onnx_bytes", "write_module", "write_transformed"]

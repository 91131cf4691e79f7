"""Figures counted from the actual sub-network: MACs, parameters, model size."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.supernets import io


def _contracted(tensor: torch.Tensor) -> int:
    return int(tensor.shape[-1])


def _attention_macs(result: torch.Tensor, query: torch.Tensor, key: torch.Tensor,
                    value: torch.Tensor) -> int:
    """QK^T and AV of scaled dot-product attention: ``batch x heads x L x S x (E + Ev)``."""
    batch_heads = result.numel() // (result.shape[-1] * result.shape[-2])
    return batch_heads * int(query.shape[-2]) * int(key.shape[-2]) * (
        int(query.shape[-1]) + int(value.shape[-1]))


def _mha_macs(result: Any, args: tuple, kwargs: dict) -> int:
    """``F.multi_head_attention_forward`` (nn.MultiheadAttention's slow path): the in- and
    out-projections, QK^T and AV, for sequence-first or batch-first inputs alike."""
    query, key = args[0], args[1]
    embed = int(query.shape[-1])
    lq = query.numel() // embed
    lk = key.numel() // int(key.shape[-1])
    batch = 1 if query.dim() == 2 else int(query.shape[1])
    return lq * embed * embed + 2 * lk * int(key.shape[-1]) * embed + \
        2 * (lq // batch) * (lk // batch) * embed * batch + lq * embed * embed


def _call_macs(name: str, args: tuple, kwargs: dict, result: Any) -> int:
    if name == "linear":
        return result.numel() * int(args[1].shape[1])
    if name in {"conv1d", "conv2d", "conv3d"}:
        weight = kwargs.get("weight", args[1] if len(args) > 1 else None)
        return result.numel() * int(weight[0].numel())
    if name in {"matmul", "__matmul__", "mm", "bmm"}:
        return result.numel() * _contracted(args[0])
    if name in {"addmm", "baddbmm"}:
        return result.numel() * _contracted(args[1])
    if name == "__rmatmul__":
        return result.numel() * _contracted(args[1])
    if name == "scaled_dot_product_attention":
        query, key, value = (kwargs.get(n, args[i] if len(args) > i else None)
                             for i, n in enumerate(("query", "key", "value")))
        return _attention_macs(result, query, key, value)
    if name == "multi_head_attention_forward":
        return _mha_macs(result, args, kwargs)
    return 0


_COUNTED = {"linear", "conv1d", "conv2d", "conv3d", "matmul", "__matmul__", "__rmatmul__",
            "mm", "bmm", "addmm", "baddbmm", "scaled_dot_product_attention",
            "multi_head_attention_forward"}


class _MacCounter(TorchFunctionMode):
    """Counts the multiply-accumulates of the tensor functions called while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in _COUNTED:
            self.total += _call_macs(name, args, kwargs,
                                     result[0] if isinstance(result, tuple) else result)
        return result


def count_macs(model: nn.Module, example_inputs: io.Inputs) -> int:
    """Multiply-accumulates of one forward pass for one sample (``example_inputs`` is a
    tensor, tuple or dict; its first sample is used).

    Counted at the tensor functions a forward pass calls, so elastic layers count their
    active slices and every architecture is counted alike: linears and 1-3-D convolutions
    (``output elements x inputs per output``), matrix products (``matmul``, ``@``, ``mm``,
    ``bmm``, ``addmm``, ``baddbmm``: ``output elements x contracted size``), attention's
    QK^T and AV (``scaled_dot_product_attention``: ``heads x L x S x (E + Ev)``; eager
    attention is counted by its two matmuls, so sdpa and eager agree) and
    ``nn.MultiheadAttention``'s slow path. Not counted: ``einsum``, fused kernels such as
    the fast path of ``nn.TransformerEncoderLayer`` in inference, normalisation,
    activations, pooling and element-wise operations.
    """
    counter = _MacCounter()
    with torch.inference_mode(), counter:
        io.forward(model, io.slice_inputs(example_inputs, slice(0, 1)))
    return int(counter.total)


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of the tensors a deployment needs: parameters and floating-point buffers."""
    tensors = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


class MacsMeasure(Measure):
    """Multiply-accumulates of one forward pass for one sample (linears, convolutions,
    matrix products, attention's QK^T and AV)."""

    name, unit, direction = "macs", "MACs", "minimize"
    cost = "cheap"

    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        return Measurement(float(count_macs(model, context.example_inputs)))


class ParamsMeasure(Measure):
    """Parameters of the sub-network."""

    name, unit, direction = "params", "parameters", "minimize"
    cost = "cheap"

    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        return Measurement(float(count_params(model)))


class ModelSizeMeasure(Measure):
    """Bytes of the parameters and floating-point buffers a deployment needs."""

    name, unit, direction = "model_size", "bytes", "minimize"
    cost = "cheap"

    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        return Measurement(float(model_size_bytes(model)))

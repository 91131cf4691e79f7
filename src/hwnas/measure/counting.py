"""Figures counted from the actual sub-network: MACs, parameters, model size."""

from __future__ import annotations

import torch
from torch import nn

from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.supernets import io


def count_macs(model: nn.Module, example_inputs: io.Inputs) -> int:
    """Multiply-accumulates of one forward pass for one sample (convolutions and linears);
    ``example_inputs`` is a tensor, tuple or dict (its first sample is used)."""
    total = 0

    def on_conv(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        per_output = module.in_channels // module.groups
        for size in module.kernel_size:
            per_output *= size
        total += output[0].numel() * per_output

    def on_linear(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += output[0].numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            handles.append(module.register_forward_hook(on_conv))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(on_linear))
    try:
        with torch.inference_mode():
            io.forward(model, io.slice_inputs(example_inputs, slice(0, 1)))
    finally:
        for handle in handles:
            handle.remove()
    return int(total)


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of the tensors a deployment needs: parameters and floating-point buffers."""
    tensors = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


class MacsMeasure(Measure):
    name, unit, direction = "macs", "MACs", "minimize"

    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        return Measurement(float(count_macs(model, context.example_inputs)))


class ParamsMeasure(Measure):
    name, unit, direction = "params", "parameters", "minimize"

    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        return Measurement(float(count_params(model)))


class ModelSizeMeasure(Measure):
    name, unit, direction = "model_size", "bytes", "minimize"

    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        return Measurement(float(model_size_bytes(model)))

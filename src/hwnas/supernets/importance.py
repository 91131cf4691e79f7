"""Channel-importance re-ordering (Once-for-All before width shrinking; DynaBERT for heads
and FFN neurons): sort an elastic layer's output channels by importance so that the first
``w`` channels a narrow sub-network keeps are the most important ones, and permute the
next layer's inputs to match. The full network computes exactly what it did before.

Importance is the L1 norm of each output channel's weights (for an attention head: of its
query, key and value rows together). Parameters are permuted in place (the same
``nn.Parameter`` objects), so an optimizer keeps holding them; its moments do not follow
the permutation and should be reset.

>>> from torch import nn
>>> first, second = nn.Linear(3, 4), nn.Linear(4, 2)
>>> net = nn.Sequential(first, nn.ReLU(), second)
>>> x = torch.randn(5, 3)
>>> before = net(x)
>>> order = l1_order(first.weight)
>>> permute_rows(first, order); permute_columns(second, order)
>>> bool(torch.allclose(before, net(x), atol=1e-6))
True
>>> bool((first.weight.abs().sum(1)[:-1] >= first.weight.abs().sum(1)[1:]).all())
True
"""

from __future__ import annotations

import torch
from torch import nn


def l1_order(weight: torch.Tensor) -> torch.Tensor:
    """Output channels (dimension 0) by decreasing L1 norm of their weights."""
    importance = weight.detach().abs().flatten(1).sum(1)
    return torch.argsort(importance, descending=True, stable=True)


@torch.no_grad()
def permute_rows(layer: nn.Module, order: torch.Tensor) -> None:
    """Permute a convolution's or linear's output channels (weight rows and bias)."""
    layer.weight.copy_(layer.weight[order])
    if getattr(layer, "bias", None) is not None:
        layer.bias.copy_(layer.bias[order])


@torch.no_grad()
def permute_columns(layer: nn.Module, order: torch.Tensor) -> None:
    """Permute a convolution's or linear's input channels (weight columns)."""
    layer.weight.copy_(layer.weight[:, order])


@torch.no_grad()
def permute_norm(norm: nn.Module, order: torch.Tensor) -> None:
    """Permute a batch norm's channels: affine parameters and running statistics."""
    for name in ("weight", "bias", "running_mean", "running_var"):
        tensor = getattr(norm, name, None)
        if tensor is not None:
            tensor.copy_(tensor[order])


def reorder_attention_and_ffn(query: nn.Linear, key: nn.Linear, value: nn.Linear,
                              out: nn.Linear, ffn_in: nn.Linear, ffn_out: nn.Linear,
                              head_dim: int) -> None:
    """Sort one transformer layer's heads (by the L1 norm of their query, key and value
    rows) and FFN neurons (by their input weights' L1 norm), most important first."""
    heads = query.weight.shape[0] // head_dim
    importance = sum(layer.weight.detach().abs().reshape(heads, -1).sum(1)
                     for layer in (query, key, value))
    head_order = torch.argsort(importance, descending=True, stable=True)
    channels = (head_order[:, None] * head_dim + torch.arange(head_dim)).reshape(-1)
    for layer in (query, key, value):
        permute_rows(layer, channels)
    permute_columns(out, channels)
    neurons = l1_order(ffn_in.weight)
    permute_rows(ffn_in, neurons)
    permute_columns(ffn_out, neurons)


__all__ = ["l1_order", "permute_columns", "permute_norm", "permute_rows",
           "reorder_attention_and_ffn"]

"""Elastic layers: each one *is* the static layer holding the full weight, and slices it
when a smaller sub-network is active (as Once-for-All's dynamic ops).

Input channels follow the incoming tensor; output channels and kernel size are set with
``active_out`` / ``active_kernel``. ``to_static`` returns the plain PyTorch layer with the
sliced weights; ``from_static`` wraps an already-trained plain layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_CONV = {1: (nn.Conv1d, F.conv1d), 2: (nn.Conv2d, F.conv2d)}
_BATCHNORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


def _center_crop(weight: torch.Tensor, kernel: int, ndim: int) -> torch.Tensor:
    full = weight.shape[-1]
    start = (full - kernel) // 2
    index = slice(start, start + kernel)
    return weight[(..., index)] if ndim == 1 else weight[..., index, index]


class ElasticConv(nn.Module):
    """A bias-free convolution (stride ``stride``, 'same' padding) with elastic width and
    kernel; smaller kernels are the centre of the largest one (as BigNAS)."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1) -> None:
        super().__init__()
        if ndim not in _CONV:
            raise ValueError(f"ndim must be 1 or 2, got {ndim}")
        self.ndim, self.stride = ndim, stride
        self.max_in, self.max_out, self.max_kernel = in_channels, out_channels, kernel_size
        shape = (out_channels, in_channels) + (kernel_size,) * ndim
        self.weight = nn.Parameter(torch.empty(shape))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.active_out, self.active_kernel = out_channels, kernel_size

    def active_weight(self, in_channels: int) -> torch.Tensor:
        weight = self.weight[: self.active_out, :in_channels]
        return _center_crop(weight, self.active_kernel, self.ndim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = _CONV[self.ndim][1]
        return conv(x, self.active_weight(x.shape[1]), None, self.stride,
                    self.active_kernel // 2)

    def to_static(self, in_channels: int) -> nn.Module:
        cls = _CONV[self.ndim][0]
        layer = cls(in_channels, self.active_out, self.active_kernel, self.stride,
                    self.active_kernel // 2, bias=False)
        layer.weight.data.copy_(self.active_weight(in_channels))
        return layer

    @classmethod
    def from_static(cls, layer: nn.Conv1d | nn.Conv2d) -> ElasticConv:
        ndim = 1 if isinstance(layer, nn.Conv1d) else 2
        elastic = cls(ndim, layer.in_channels, layer.out_channels, layer.kernel_size[0],
                      layer.stride[0])
        elastic.weight.data.copy_(layer.weight.data)
        return elastic


class ElasticBatchNorm(nn.Module):
    """Batch norm over the first ``C`` channels of its full-width statistics and affine."""

    def __init__(self, ndim: int, num_features: int) -> None:
        super().__init__()
        self.ndim = ndim
        self.bn = _BATCHNORM[ndim](num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels, bn = x.shape[1], self.bn
        use_batch_stats = bn.training or bn.running_mean is None
        momentum = bn.momentum if bn.momentum is not None else 0.0
        if bn.training and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
            if bn.momentum is None:
                momentum = 1.0 / float(bn.num_batches_tracked)
        return F.batch_norm(
            x, bn.running_mean[:channels], bn.running_var[:channels], bn.weight[:channels],
            bn.bias[:channels], use_batch_stats, momentum, bn.eps,
        )

    def to_static(self, channels: int) -> nn.Module:
        static = _BATCHNORM[self.ndim](channels, eps=self.bn.eps, momentum=self.bn.momentum)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(static, name).data.copy_(getattr(self.bn, name).data[:channels])
        static.num_batches_tracked.data.copy_(self.bn.num_batches_tracked.data)
        return static


class ElasticLinear(nn.Module):
    """A linear layer whose input features follow the incoming tensor."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.linear.weight[:, : x.shape[1]], self.linear.bias)

    def to_static(self, in_features: int) -> nn.Linear:
        static = nn.Linear(in_features, self.linear.out_features)
        static.weight.data.copy_(self.linear.weight.data[:, :in_features])
        static.bias.data.copy_(self.linear.bias.data)
        return static

"""Elastic layers: each one *is* the static torch layer (a subclass of it) holding the full
weight, and slices it while a smaller sub-network is active (as Once-for-All's dynamic ops
and mmrazor's dynamic bricks). State-dict keys are those of the plain layer, so a trained
plain model loads into the elastic one and back.

Input channels follow the incoming tensor; output channels and the kernel size are set with
``active_out`` / ``active_kernel``. A smaller kernel is the centre of the largest one
(BigNAS's centre crop; Once-for-All adds a learned kernel transformation, which we do not).
``to_static`` returns the plain layer with the sliced weights; ``from_static`` wraps a
trained plain layer exactly, and refuses one it cannot represent.

>>> conv = ElasticConv2d(4, 8, 5, stride=2)
>>> conv.active_out, conv.active_kernel = 6, 3
>>> x = torch.randn(1, 3, 9, 9)
>>> static = conv.to_static(3)
>>> (static.in_channels, static.out_channels, static.kernel_size, static.padding)
(3, 6, (3, 3), (1, 1))
>>> bool(torch.allclose(conv(x), static(x)))
True
>>> sorted(conv.state_dict()) == sorted(nn.Conv2d(4, 8, 5, bias=False).state_dict())
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.errors import InvalidConfigError


def _center_crop(weight: torch.Tensor, kernel: int, ndim: int) -> torch.Tensor:
    start = (weight.shape[-1] - kernel) // 2
    index = slice(start, start + kernel)
    return weight[(..., index)] if ndim == 1 else weight[..., index, index]


class _ElasticConv:
    """What the 1-D and 2-D elastic convolutions share (mixed into ``nn.ConvNd``).

    A convolution is dense (``groups=1``) or depthwise (``groups`` = channels; then the
    active channels follow the input and ``active_out`` is ignored); 'same' padding
    (kernel // 2), odd square kernels, no dilation.
    """

    ndim: int
    _static: type[nn.Module]
    _function = None

    def _setup(self, kernel_size: int) -> None:
        if kernel_size % 2 == 0:
            raise InvalidConfigError(f"elastic convolutions need odd kernels, got {kernel_size}")
        self.depthwise = self.groups > 1
        if self.depthwise and not self.groups == self.in_channels == self.out_channels:
            raise InvalidConfigError(
                "an elastic convolution is dense (groups=1) or depthwise (groups = in = out "
                f"channels); got groups={self.groups}, in={self.in_channels}, "
                f"out={self.out_channels}"
            )
        self.active_out, self.active_kernel = self.out_channels, kernel_size

    def active_weight(self, in_channels: int) -> torch.Tensor:
        if self.depthwise:
            weight = self.weight[:in_channels]
        else:
            weight = self.weight[: self.active_out, :in_channels]
        return _center_crop(weight, self.active_kernel, self.ndim)

    def active_bias(self, in_channels: int) -> torch.Tensor | None:
        if self.bias is None:
            return None
        return self.bias[: in_channels if self.depthwise else self.active_out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        return type(self)._function(x, self.active_weight(channels), self.active_bias(channels),
                                    self.stride, self.active_kernel // 2, 1,
                                    channels if self.depthwise else 1)

    def to_static(self, in_channels: int) -> nn.Module:
        out = in_channels if self.depthwise else self.active_out
        layer = self._static(in_channels, out, self.active_kernel, self.stride,
                             self.active_kernel // 2, groups=in_channels if self.depthwise else 1,
                             bias=self.bias is not None)
        layer.weight.data.copy_(self.active_weight(in_channels))
        if self.bias is not None:
            layer.bias.data.copy_(self.active_bias(in_channels))
        return layer

    @classmethod
    def from_static(cls, layer: nn.Module):
        """The elastic layer holding ``layer``'s weights exactly (refuses dilation,
        non-square or even kernels, padding other than 'same', other padding modes)."""
        if not isinstance(layer, cls._static):
            raise InvalidConfigError(f"{cls.__name__}.from_static needs a {cls._static.__name__},"
                                     f" got {type(layer).__name__}")
        kernel = layer.kernel_size[0]
        problems = []
        if len(set(layer.kernel_size)) != 1 or kernel % 2 == 0:
            problems.append(f"kernel {layer.kernel_size} (need odd and square)")
        if any(d != 1 for d in layer.dilation):
            problems.append(f"dilation {layer.dilation}")
        if layer.padding != (kernel // 2,) * cls.ndim:
            problems.append(f"padding {layer.padding} (need {kernel // 2})")
        if layer.padding_mode != "zeros":
            problems.append(f"padding_mode {layer.padding_mode!r}")
        if len(set(layer.stride)) != 1:
            problems.append(f"stride {layer.stride}")
        if problems:
            raise InvalidConfigError(f"cannot make this {type(layer).__name__} elastic: "
                                     + ", ".join(problems))
        elastic = cls(layer.in_channels, layer.out_channels, kernel, layer.stride[0],
                      groups=layer.groups, bias=layer.bias is not None)
        elastic.load_state_dict(layer.state_dict())
        return elastic


class ElasticConv1d(_ElasticConv, nn.Conv1d):
    ndim, _static, _function = 1, nn.Conv1d, F.conv1d

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = False) -> None:
        nn.Conv1d.__init__(self, in_channels, out_channels, kernel_size, stride,
                           kernel_size // 2, groups=groups, bias=bias)
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self._setup(kernel_size)


class ElasticConv2d(_ElasticConv, nn.Conv2d):
    ndim, _static, _function = 2, nn.Conv2d, F.conv2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = False) -> None:
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride,
                           kernel_size // 2, groups=groups, bias=bias)
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self._setup(kernel_size)


class _ElasticBatchNorm:
    """Batch norm over the first ``C`` channels of its full-width statistics and affine
    (mixed into ``nn.BatchNormNd``); ``C`` follows the incoming tensor."""

    _static: type[nn.Module]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        use_batch_stats = self.training or self.running_mean is None
        momentum = self.momentum if self.momentum is not None else 0.0
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        return F.batch_norm(
            x, self.running_mean[:channels], self.running_var[:channels],
            self.weight[:channels], self.bias[:channels], use_batch_stats, momentum, self.eps,
        )

    def to_static(self, channels: int) -> nn.Module:
        static = self._static(channels, eps=self.eps, momentum=self.momentum)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(static, name).data.copy_(getattr(self, name).data[:channels])
        static.num_batches_tracked.data.copy_(self.num_batches_tracked.data)
        return static

    @classmethod
    def from_static(cls, layer: nn.Module):
        if not isinstance(layer, cls._static) or not (layer.affine and
                                                      layer.track_running_stats):
            raise InvalidConfigError(f"{cls.__name__}.from_static needs an affine "
                                     f"{cls._static.__name__} that tracks running statistics")
        elastic = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum)
        elastic.load_state_dict(layer.state_dict())
        return elastic


class ElasticBatchNorm1d(_ElasticBatchNorm, nn.BatchNorm1d):
    _static = nn.BatchNorm1d


class ElasticBatchNorm2d(_ElasticBatchNorm, nn.BatchNorm2d):
    _static = nn.BatchNorm2d


class ElasticLinear(nn.Linear):
    """A linear layer whose input features follow the incoming tensor and whose output
    features are the first ``active_out``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.active_out = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias[: self.active_out] if self.bias is not None else None
        return F.linear(x, self.weight[: self.active_out, : x.shape[-1]], bias)

    def to_static(self, in_features: int) -> nn.Linear:
        static = nn.Linear(in_features, self.active_out, bias=self.bias is not None)
        static.weight.data.copy_(self.weight.data[: self.active_out, :in_features])
        if self.bias is not None:
            static.bias.data.copy_(self.bias.data[: self.active_out])
        return static

    @classmethod
    def from_static(cls, layer: nn.Linear) -> ElasticLinear:
        if not isinstance(layer, nn.Linear):
            raise InvalidConfigError(f"ElasticLinear.from_static needs an nn.Linear, "
                                     f"got {type(layer).__name__}")
        elastic = cls(layer.in_features, layer.out_features, bias=layer.bias is not None)
        elastic.load_state_dict(layer.state_dict())
        return elastic


_CONVS = {1: ElasticConv1d, 2: ElasticConv2d}
_NORMS = {1: ElasticBatchNorm1d, 2: ElasticBatchNorm2d}


def elastic_conv(ndim: int, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Module:
    """A 1-D or 2-D elastic convolution."""
    if ndim not in _CONVS:
        raise InvalidConfigError(f"ndim must be 1 or 2, got {ndim}")
    return _CONVS[ndim](in_channels, out_channels, kernel_size, stride, groups=groups, bias=bias)


def elastic_batchnorm(ndim: int, num_features: int) -> nn.Module:
    """A 1-D or 2-D elastic batch norm."""
    if ndim not in _NORMS:
        raise InvalidConfigError(f"ndim must be 1 or 2, got {ndim}")
    return _NORMS[ndim](num_features)


__all__ = ["ElasticBatchNorm1d", "ElasticBatchNorm2d", "ElasticConv1d", "ElasticConv2d",
           "ElasticLinear", "elastic_batchnorm", "elastic_conv"]

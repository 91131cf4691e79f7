"""A MobileNetV3-style super-network with Once-for-All's elastic dimensions.

Inverted-residual blocks (1x1 expansion, depthwise convolution, optional
squeeze-and-excitation, 1x1 projection; a residual when shape allows), ReLU in the early
stages and hard-swish in the later ones, as MobileNetV3-Large. Elastic: the depth of each
stage, and per block the expand ratio and the depthwise kernel (a smaller kernel is the
centre of the largest: BigNAS's centre crop, not OFA's learned kernel transformation).
The stem, the first (fixed) block, the stage widths and the head are not elastic, as in
OFA's MobileNetV3 space; input resolution is not searched.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.space import Choice, Config, SearchSpace
from hwnas.supernets.base import ElasticSupernet, configure_stages, forward_active
from hwnas.supernets.elastic_ops import ElasticBatchNorm2d, ElasticConv2d
from hwnas.supernets.importance import l1_order, permute_columns, permute_norm, permute_rows
from hwnas.supernets.static import Residual, SqueezeExcite, make_divisible

ACTIVATIONS = {"relu": nn.ReLU, "hswish": nn.Hardswish}


class _ElasticSqueezeExcite(nn.Module):
    """Squeeze-and-excitation over the active channels; the reduced width follows them."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.reduction = reduction
        self.reduce = ElasticConv2d(channels, make_divisible(channels / reduction), 1, bias=True)
        self.expand = ElasticConv2d(self.reduce.out_channels, channels, 1, bias=True)

    def _configure(self, channels: int) -> None:
        self.reduce.active_out = make_divisible(channels / self.reduction)
        self.expand.active_out = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._configure(x.shape[1])
        return SqueezeExcite.forward(self, x)  # the same computation on the elastic convs

    def to_static(self, channels: int) -> SqueezeExcite:
        self._configure(channels)
        return SqueezeExcite(self.reduce.to_static(channels),
                             self.expand.to_static(self.reduce.active_out))


class _InvertedResidual(nn.Module):
    """One MBConv block with elastic expand ratio and kernel (``max_expand == 1``: no
    expansion, as MobileNetV3's first block)."""

    def __init__(self, in_channels: int, out_channels: int, max_expand: float, max_kernel: int,
                 stride: int, activation: str, squeeze_excite: bool) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.activation = ACTIVATIONS[activation]
        mid = make_divisible(in_channels * max_expand)
        self.expand = None
        if max_expand != 1:
            self.expand = nn.Sequential(ElasticConv2d(in_channels, mid, 1),
                                        ElasticBatchNorm2d(mid), self.activation())
        else:
            mid = in_channels
        self.depthwise = nn.Sequential(ElasticConv2d(mid, mid, max_kernel, stride, groups=mid),
                                       ElasticBatchNorm2d(mid), self.activation())
        self.squeeze_excite = _ElasticSqueezeExcite(mid) if squeeze_excite else None
        self.project = nn.Sequential(ElasticConv2d(mid, out_channels, 1),
                                     ElasticBatchNorm2d(out_channels))
        self.residual = stride == 1 and in_channels == out_channels
        self.active = True

    def configure(self, expand: float, kernel: int) -> None:
        if self.expand is not None:
            self.expand[0].active_out = make_divisible(self.in_channels * expand)
        self.depthwise[0].active_kernel = kernel

    def reorder_by_importance(self) -> None:
        """Sort the expanded (middle) channels by the L1 norm of the expansion's output
        weights; depthwise conv, squeeze-and-excitation and projection follow."""
        if self.expand is None:
            return
        order = l1_order(self.expand[0].weight)
        permute_rows(self.expand[0], order)
        permute_norm(self.expand[1], order)
        permute_rows(self.depthwise[0], order)
        permute_norm(self.depthwise[1], order)
        if self.squeeze_excite is not None:
            permute_columns(self.squeeze_excite.reduce, order)
            permute_rows(self.squeeze_excite.expand, order)
        permute_columns(self.project[0], order)

    def _body(self) -> list[nn.Module]:
        return ([self.expand] if self.expand is not None else []) + [self.depthwise] + (
            [self.squeeze_excite] if self.squeeze_excite is not None else []) + [self.project]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for part in self._body():
            out = part(out)
        return x + out if self.residual else out

    def to_static(self) -> nn.Module:
        layers: list[nn.Module] = []
        channels = self.in_channels
        if self.expand is not None:
            conv = self.expand[0]
            layers += [conv.to_static(channels), self.expand[1].to_static(conv.active_out),
                       self.activation()]
            channels = conv.active_out
        layers += [self.depthwise[0].to_static(channels), self.depthwise[1].to_static(channels),
                   self.activation()]
        if self.squeeze_excite is not None:
            layers.append(self.squeeze_excite.to_static(channels))
        layers += [self.project[0].to_static(channels),
                   self.project[1].to_static(self.project[0].active_out)]
        body = nn.Sequential(*layers)
        return Residual(body) if self.residual else body


def mobilenet_space(stages: int, depths: Sequence[int], expand_ratios: Sequence[float],
                    kernels: Sequence[int]) -> SearchSpace:
    dims = []
    for stage in range(stages):
        dims.append(Choice(f"stage{stage}.depth", tuple(depths)))
        for block in range(max(depths)):
            condition = None if block < min(depths) else (f"stage{stage}.depth", block + 1)
            dims.append(Choice(f"stage{stage}.block{block}.expand", tuple(expand_ratios),
                               condition))
            dims.append(Choice(f"stage{stage}.block{block}.kernel", tuple(kernels), condition))
    return SearchSpace(dims)


class MobileNetV3Supernet(ElasticSupernet):
    """MobileNetV3-Large-style super-network for images (``in_channels`` x ``input_size``
    x ``input_size``)."""

    def __init__(self, in_channels: int, input_size: int, num_classes: int, *,
                 stem_width: int = 16, first_width: int = 16,
                 stage_widths: Sequence[int] = (24, 40, 80, 112, 160),
                 strides: Sequence[int] = (2, 2, 2, 1, 2),
                 activations: Sequence[str] = ("relu", "relu", "hswish", "hswish", "hswish"),
                 squeeze_excite: Sequence[bool] = (False, True, False, True, True),
                 depths: Sequence[int] = (2, 3, 4), expand_ratios: Sequence[float] = (3, 4, 6),
                 kernels: Sequence[int] = (3, 5, 7), final_width: int = 960,
                 head_width: int = 1280) -> None:
        super().__init__()
        lengths = {len(stage_widths), len(strides), len(activations), len(squeeze_excite)}
        if len(lengths) != 1:
            raise InvalidConfigError("stage_widths, strides, activations and squeeze_excite "
                                     "need one entry per stage")
        self.input_shape = (in_channels, input_size, input_size)
        self.space = mobilenet_space(len(stage_widths), depths, expand_ratios, kernels)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem_width, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(stem_width), nn.Hardswish())
        self.first = _InvertedResidual(stem_width, first_width, 1, 3, 1, "relu", False)
        self.stages = nn.ModuleList()
        previous = first_width
        for width, stride, activation, se in zip(stage_widths, strides, activations,
                                                 squeeze_excite):
            self.stages.append(nn.ModuleList(
                _InvertedResidual(previous if block == 0 else width, width, max(expand_ratios),
                                  max(kernels), stride if block == 0 else 1, activation, se)
                for block in range(max(depths))))
            previous = width
        self.head = nn.Sequential(
            nn.Conv2d(previous, final_width, 1, bias=False), nn.BatchNorm2d(final_width),
            nn.Hardswish(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(final_width, head_width), nn.Hardswish(),
            nn.Linear(head_width, num_classes))
        self.activate(self.space.largest())

    def _apply_config(self, config: Config) -> None:
        for _, key, block in configure_stages(self.stages, config):
            block.configure(config[f"{key}.expand"], config[f"{key}.kernel"])

    def reorder_by_importance(self) -> None:
        """Sort each block's expanded channels by importance (Once-for-All's
        re-organisation of the middle weights); the full network's outputs stay the same."""
        for blocks in self.stages:
            for block in blocks:
                block.reorder_by_importance()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(self.stem(x))
        x = forward_active(self.stages, x)
        return self.head(x)

    def _build_static(self) -> nn.Module:
        layers = [copy.deepcopy(self.stem), self.first.to_static()]
        layers += [block.to_static() for blocks in self.stages for block in blocks
                   if block.active]
        layers.append(copy.deepcopy(self.head))
        return nn.Sequential(*layers)


__all__ = ["MobileNetV3Supernet", "mobilenet_space"]

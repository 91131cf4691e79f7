"""A ResNet-style super-network with Once-for-All's elastic dimensions (OFA-ResNet50).

Bottleneck blocks (1x1 reduce, 3x3, 1x1 expand, each with batch norm; a projection
shortcut on the first block of each stage, identity on the others; ReLU after the sum).
Elastic: the depth of each stage (its base depth plus 0, 1 or 2 blocks), a width
multiplier per stage (the stage's output channels) and for the stem, and per block the
bottleneck's expand ratio (its middle width as a fraction of the block's output width).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.space import Choice, Config, SearchSpace
from hwnas.supernets.base import ElasticSupernet, configure_stages, forward_active
from hwnas.supernets.elastic_ops import ElasticBatchNorm2d, ElasticConv2d, ElasticLinear
from hwnas.supernets.importance import l1_order, permute_columns, permute_norm, permute_rows
from hwnas.supernets.static import Residual, make_divisible


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(ElasticConv2d(in_channels, out_channels, kernel, stride),
                         ElasticBatchNorm2d(out_channels))


def _static_conv_bn(pair: nn.Sequential, in_channels: int) -> list[nn.Module]:
    conv, norm = pair
    return [conv.to_static(in_channels), norm.to_static(conv.active_out)]


class _Bottleneck(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, max_expand: float,
                 stride: int, project: bool, divisor: int) -> None:
        super().__init__()
        self.divisor = divisor
        mid = make_divisible(out_channels * max_expand, divisor)
        self.reduce = _conv_bn(in_channels, mid, 1)
        self.conv = _conv_bn(mid, mid, 3, stride)
        self.expand = _conv_bn(mid, out_channels, 1)
        # the first block of a stage projects: its input width follows another multiplier
        self.shortcut = _conv_bn(in_channels, out_channels, 1, stride) if project else None
        self.active = True

    def configure(self, out_channels: int, expand: float) -> None:
        mid = make_divisible(out_channels * expand, self.divisor)
        self.reduce[0].active_out = self.conv[0].active_out = mid
        self.expand[0].active_out = out_channels
        if self.shortcut is not None:
            self.shortcut[0].active_out = out_channels

    def reorder_by_importance(self) -> None:
        """Sort both middle widths by the L1 norm of their producing conv's output weights
        (reduce, then the 3x3), the consumers' inputs to match."""
        for producer, consumer in ((self.reduce, self.conv), (self.conv, self.expand)):
            order = l1_order(producer[0].weight)
            permute_rows(producer[0], order)
            permute_norm(producer[1], order)
            permute_columns(consumer[0], order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(torch.relu(self.conv(torch.relu(self.reduce(x)))))
        return torch.relu(out + (self.shortcut(x) if self.shortcut is not None else x))

    def to_static(self, in_channels: int) -> Residual:
        mid = self.reduce[0].active_out
        body = nn.Sequential(*_static_conv_bn(self.reduce, in_channels), nn.ReLU(),
                             *_static_conv_bn(self.conv, mid), nn.ReLU(),
                             *_static_conv_bn(self.expand, mid))
        shortcut = (nn.Sequential(*_static_conv_bn(self.shortcut, in_channels))
                    if self.shortcut is not None else None)
        return Residual(body, shortcut, nn.ReLU())


def resnet_space(stages: int, base_depths: Sequence[int], extra_depths: Sequence[int],
                 width_multipliers: Sequence[float],
                 expand_ratios: Sequence[float]) -> SearchSpace:
    dims = [Choice("stem.width", tuple(width_multipliers))]
    for stage in range(stages):
        depths = tuple(base_depths[stage] + extra for extra in extra_depths)
        dims.append(Choice(f"stage{stage}.depth", depths))
        dims.append(Choice(f"stage{stage}.width", tuple(width_multipliers)))
        for block in range(max(depths)):
            condition = None if block < min(depths) else (f"stage{stage}.depth", block + 1)
            dims.append(Choice(f"stage{stage}.block{block}.expand", tuple(expand_ratios),
                               condition))
    return SearchSpace(dims)


class ResNetSupernet(ElasticSupernet):
    """ResNet-style bottleneck super-network for images (``in_channels`` x ``input_size``
    x ``input_size``)."""

    def __init__(self, in_channels: int, input_size: int, num_classes: int, *,
                 stem_width: int = 64, stage_widths: Sequence[int] = (256, 512, 1024, 2048),
                 base_depths: Sequence[int] = (2, 2, 4, 2), extra_depths: Sequence[int] = (0, 1, 2),
                 strides: Sequence[int] = (1, 2, 2, 2),
                 width_multipliers: Sequence[float] = (0.65, 0.8, 1.0),
                 expand_ratios: Sequence[float] = (0.2, 0.25, 0.35),
                 channel_divisor: int = 8) -> None:
        super().__init__()
        if not len(stage_widths) == len(base_depths) == len(strides):
            raise InvalidConfigError("stage_widths, base_depths and strides need one entry "
                                     "per stage")
        self.input_shape = (in_channels, input_size, input_size)
        self.space = resnet_space(len(stage_widths), base_depths, extra_depths,
                                  width_multipliers, expand_ratios)
        self.stem_width, self.stage_widths = stem_width, tuple(stage_widths)
        self.divisor = channel_divisor
        self.stem = _conv_bn(in_channels, stem_width, 3, 1)
        self.stages = nn.ModuleList()
        previous = stem_width
        for width, stride, base in zip(stage_widths, strides, base_depths):
            self.stages.append(nn.ModuleList(
                _Bottleneck(previous if block == 0 else width, width, max(expand_ratios),
                            stride if block == 0 else 1, project=block == 0,
                            divisor=channel_divisor)
                for block in range(base + max(extra_depths))))
            previous = width
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = ElasticLinear(previous, num_classes)
        self.activate(self.space.largest())

    def _apply_config(self, config: Config) -> None:
        self.stem[0].active_out = self._width(self.stem_width, config["stem.width"])
        widths = [self._width(full, config[f"stage{stage}.width"])
                  for stage, full in enumerate(self.stage_widths)]
        for stage, key, block in configure_stages(self.stages, config):
            block.configure(widths[stage], config[f"{key}.expand"])

    def reorder_by_importance(self) -> None:
        """Sort each bottleneck's middle channels by importance (Once-for-All's
        re-organisation of the middle weights); the full network's outputs stay the same.
        Stage widths are not re-ordered (residual sums tie them across blocks)."""
        for blocks in self.stages:
            for block in blocks:
                block.reorder_by_importance()

    def _width(self, full: int, multiplier: float) -> int:
        return min(full, make_divisible(full * multiplier, self.divisor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        x = forward_active(self.stages, x)
        return self.classifier(self.pool(x))

    def _build_static(self) -> nn.Module:
        layers = [*_static_conv_bn(self.stem, self.input_shape[0]), nn.ReLU()]
        channels = self.stem[0].active_out
        for blocks in self.stages:
            for block in blocks:
                if block.active:
                    layers.append(block.to_static(channels))
                    channels = block.expand[0].active_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), self.classifier.to_static(channels)]
        return nn.Sequential(*layers)


__all__ = ["ResNetSupernet", "resnet_space"]

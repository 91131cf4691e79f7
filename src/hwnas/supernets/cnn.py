"""An elastic CNN (1-D or 2-D): elastic depth per stage, width and kernel per block.

Each stage holds up to ``max(depths)`` conv-BN-ReLU blocks; the first block of every stage
after the first halves the resolution. A global average pool and a linear classifier follow.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.space import Choice, Config, SearchSpace
from hwnas.supernets.base import ElasticSupernet, configure_stages, forward_active
from hwnas.supernets.elastic_ops import ElasticLinear, elastic_batchnorm, elastic_conv
from hwnas.supernets.importance import permute_columns, permute_norm, permute_rows


def cnn_space(stage_widths: Sequence[Sequence[int]], depths: Sequence[int],
              kernels: Sequence[int]) -> SearchSpace:
    dims = []
    for stage, widths in enumerate(stage_widths):
        dims.append(Choice(f"stage{stage}.depth", tuple(depths)))
        for block in range(max(depths)):
            condition = None if block < min(depths) else (f"stage{stage}.depth", block + 1)
            dims.append(Choice(f"stage{stage}.block{block}.width", tuple(widths), condition))
            if len(kernels) > 1:
                dims.append(Choice(f"stage{stage}.block{block}.kernel", tuple(kernels), condition))
    return SearchSpace(dims)


class _Block(nn.Module):
    def __init__(self, ndim: int, in_channels: int, out_channels: int, kernel: int,
                 stride: int) -> None:
        super().__init__()
        self.conv = elastic_conv(ndim, in_channels, out_channels, kernel, stride)
        self.bn = elastic_batchnorm(ndim, out_channels)
        self.active = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class ElasticCNN(ElasticSupernet):
    """A plain elastic CNN; ``ndim=2`` for images, ``ndim=1`` for signals."""

    def __init__(self, ndim: int, in_channels: int, input_length: int, num_classes: int,
                 stem_width: int, stage_widths: Sequence[Sequence[int]],
                 depths: Sequence[int] = (1, 2, 3), kernels: Sequence[int] = (3, 5)) -> None:
        super().__init__()
        self.ndim, self.num_classes = ndim, num_classes
        self.input_shape = (in_channels,) + (input_length,) * ndim
        self.kernels = tuple(kernels)
        self.space = cnn_space(stage_widths, depths, kernels)
        self.stem = nn.Sequential(
            elastic_conv(ndim, in_channels, stem_width, 3), elastic_batchnorm(ndim, stem_width),
            nn.ReLU(),
        )
        self.stages = nn.ModuleList()
        previous = stem_width
        for stage, widths in enumerate(stage_widths):
            blocks = nn.ModuleList()
            for block in range(max(depths)):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(_Block(ndim, previous if block == 0 else max(widths), max(widths),
                                     max(kernels), stride))
            previous = max(widths)
            self.stages.append(blocks)
        pool = nn.AdaptiveAvgPool1d(1) if ndim == 1 else nn.AdaptiveAvgPool2d(1)
        self.pool = nn.Sequential(pool, nn.Flatten())
        self.classifier = ElasticLinear(previous, num_classes)
        self.activate(self.space.largest())

    def _apply_config(self, config: Config) -> None:
        for _, key, block in configure_stages(self.stages, config):
            block.conv.active_out = config[f"{key}.width"]
            block.conv.active_kernel = config.get(f"{key}.kernel", self.kernels[-1])

    def reorder_by_importance(self) -> None:
        """Sort each stage's channels by importance (the L1 norm of its blocks' output
        weights, summed), most important first, and the inputs that read them to match.

        One order per stage: every block of a stage writes its channels in that order and
        every consumer (the stage's later blocks, the next stage's first block, the
        classifier) reads them so, whichever block is the last active one; so every
        sub-network of full width computes what it did before.
        """
        consumers = [stage[0].conv for stage in self.stages[1:]] + [self.classifier]
        for blocks, consumer in zip(self.stages, consumers):
            importance = sum(block.conv.weight.detach().abs().flatten(1).sum(1)
                             for block in blocks)
            order = torch.argsort(importance, descending=True, stable=True)
            for index, block in enumerate(blocks):
                permute_rows(block.conv, order)
                permute_norm(block.bn, order)
                if index > 0:
                    permute_columns(block.conv, order)
            permute_columns(consumer, order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = forward_active(self.stages, x)
        return self.classifier(self.pool(x))

    def _build_static(self) -> nn.Module:
        stem_conv, stem_bn = self.stem[0], self.stem[1]
        layers: list[nn.Module] = [stem_conv.to_static(self.input_shape[0]),
                                   stem_bn.to_static(stem_conv.active_out), nn.ReLU()]
        channels = stem_conv.active_out
        for blocks in self.stages:
            for block in blocks:
                if block.active:
                    layers += [block.conv.to_static(channels),
                               block.bn.to_static(block.conv.active_out), nn.ReLU()]
                    channels = block.conv.active_out
        layers += [self.pool[0].__class__(1), nn.Flatten(), self.classifier.to_static(channels)]
        return nn.Sequential(*layers)

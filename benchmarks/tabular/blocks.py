"""A block-type weight-sharing super-network for 1-D signals (benchmark only).

Four stages (channels ``widths``, lengths 40, 20, 10, 5 on mnist1d), each a fixed
transition (the stem, a k3 convolution, for stage 0; after it an average pool of 2 and a
1x1 convolution, which mix no neighbouring positions, so that what the network sees of a
signal's shape is mostly the chosen blocks' doing) and one block whose *type* is an
unordered choice; the type decides which other genes matter:

- ``conv``: residual ``x + BN(conv1x1(ReLU(BN(conv_k(x)))))`` with hidden width
  ``s{i}.width`` and kernel ``s{i}.kernel``;
- ``sep``: inverted bottleneck (MobileNetV2): 1x1 expansion to ``s{i}.expand`` times the
  channels, depthwise ``s{i}.kernel``, 1x1 projection, residual;
- ``pool``: max pool, kernel 3, stride 1;
- ``skip``: identity.

So ``s{i}.kernel`` is active for ``{"conv", "sep"}``, ``s{i}.width`` only for ``conv`` and
``s{i}.expand`` only for ``sep``: 2*2 + 2*2 + 1 + 1 = 10 sub-networks per stage,
10**4 = 10,000 in all. Elastic weights are sliced as Once-for-All: a smaller kernel is the
centre of the largest, a narrower layer the first channels.

>>> net = BlockSupernet()
>>> net.space.size()
10000
>>> config = net.space.sample(__import__("numpy").random.default_rng(0))
>>> x = torch.randn(2, 1, 40)
>>> net.activate(config)
>>> bool(torch.allclose(net.eval()(x), net.extract(config).eval()(x), atol=1e-5))
True
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.space import Categorical, Choice, Config, SearchSpace

TYPES = ("conv", "sep", "pool", "skip")
KERNELS = (3, 7)
EXPANDS = (2, 4)
WIDTH_FACTORS = (1, 2)


def blocks_space(widths: Sequence[int] = (16, 24, 32, 48)) -> SearchSpace:
    dims = []
    for stage, channels in enumerate(widths):
        kind = f"s{stage}.type"
        dims += [Categorical(kind, TYPES),
                 Choice(f"s{stage}.kernel", KERNELS, active_if=(kind, {"conv", "sep"})),
                 Choice(f"s{stage}.width", tuple(f * channels for f in WIDTH_FACTORS),
                        active_if=(kind, {"conv"})),
                 Choice(f"s{stage}.expand", EXPANDS, active_if=(kind, {"sep"}))]
    return SearchSpace(dims)


def _center(weight: torch.Tensor, kernel: int) -> torch.Tensor:
    start = (weight.shape[-1] - kernel) // 2
    return weight[..., start:start + kernel]


def _conv(weight: torch.Tensor, groups: int = 1) -> nn.Conv1d:
    """A plain bias-free 'same' convolution holding a copy of ``weight``."""
    out_channels, per_group, kernel = weight.shape
    layer = nn.Conv1d(per_group * groups, out_channels, kernel, padding=kernel // 2,
                      groups=groups, bias=False)
    layer.weight.data.copy_(weight)
    return layer


def _norm(norm: nn.BatchNorm1d, channels: int) -> nn.BatchNorm1d:
    """The first ``channels`` of ``norm`` as a plain batch norm."""
    layer = nn.BatchNorm1d(channels)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(layer, name).data.copy_(getattr(norm, name)[:channels])
    layer.num_batches_tracked.copy_(norm.num_batches_tracked)
    return layer


def _bn(x: torch.Tensor, norm: nn.BatchNorm1d, channels: int) -> torch.Tensor:
    """``norm`` restricted to its first ``channels`` (statistics and affine); in training
    mode the running statistics of those channels are updated in place (slices are views).
    """
    return F.batch_norm(x, norm.running_mean[:channels], norm.running_var[:channels],
                        norm.weight[:channels], norm.bias[:channels], norm.training,
                        0.1 if norm.momentum is None else norm.momentum, norm.eps)


class Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ElasticConvBlock(nn.Module):
    """``x + BN(conv1x1(ReLU(BN(conv_k(x)))))`` with elastic kernel and hidden width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(WIDTH_FACTORS) * channels
        self.conv = nn.Parameter(torch.empty(hidden, channels, max(KERNELS)))
        self.project = nn.Parameter(torch.empty(channels, hidden, 1))
        for weight in (self.conv, self.project):
            nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")
        self.bn1, self.bn2 = nn.BatchNorm1d(hidden), nn.BatchNorm1d(channels)
        self.channels = channels

    def forward(self, x: torch.Tensor, kernel: int, width: int) -> torch.Tensor:
        h = F.conv1d(x, _center(self.conv[:width], kernel), padding=kernel // 2)
        h = torch.relu(_bn(h, self.bn1, width))
        return x + _bn(F.conv1d(h, self.project[:, :width]), self.bn2, self.channels)

    def to_static(self, kernel: int, width: int) -> nn.Module:
        return Residual(nn.Sequential(
            _conv(_center(self.conv[:width], kernel).detach()), _norm(self.bn1, width),
            nn.ReLU(), _conv(self.project[:, :width].detach()),
            _norm(self.bn2, self.channels)))


class ElasticSepBlock(nn.Module):
    """Inverted bottleneck with elastic expansion ratio and depthwise kernel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(EXPANDS) * channels
        self.expand = nn.Parameter(torch.empty(hidden, channels, 1))
        self.depthwise = nn.Parameter(torch.empty(hidden, 1, max(KERNELS)))
        self.project = nn.Parameter(torch.empty(channels, hidden, 1))
        for weight in (self.expand, self.depthwise, self.project):
            nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")
        self.bn1, self.bn2 = nn.BatchNorm1d(hidden), nn.BatchNorm1d(hidden)
        self.bn3 = nn.BatchNorm1d(channels)
        self.channels = channels

    def forward(self, x: torch.Tensor, kernel: int, expand: int) -> torch.Tensor:
        hidden = expand * self.channels
        h = torch.relu(_bn(F.conv1d(x, self.expand[:hidden]), self.bn1, hidden))
        h = F.conv1d(h, _center(self.depthwise[:hidden], kernel), padding=kernel // 2,
                     groups=hidden)
        h = torch.relu(_bn(h, self.bn2, hidden))
        return x + _bn(F.conv1d(h, self.project[:, :hidden]), self.bn3, self.channels)

    def to_static(self, kernel: int, expand: int) -> nn.Module:
        hidden = expand * self.channels
        return Residual(nn.Sequential(
            _conv(self.expand[:hidden].detach()), _norm(self.bn1, hidden), nn.ReLU(),
            _conv(_center(self.depthwise[:hidden], kernel).detach(), groups=hidden),
            _norm(self.bn2, hidden), nn.ReLU(),
            _conv(self.project[:, :hidden].detach()), _norm(self.bn3, self.channels)))


class BlockSupernet(nn.Module):
    """Four stages, one elastic block of a chosen type each; ``activate`` picks them."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 widths: Sequence[int] = (16, 24, 32, 48), input_length: int = 40) -> None:
        super().__init__()
        self.space = blocks_space(widths)
        self.input_shape = (in_channels, input_length)
        self.widths = tuple(widths)
        self.stem = nn.Sequential(nn.Conv1d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm1d(widths[0]), nn.ReLU())
        self.transitions = nn.ModuleList(
            nn.Sequential(nn.AvgPool1d(2), nn.Conv1d(a, b, 1, bias=False),
                          nn.BatchNorm1d(b), nn.ReLU())
            for a, b in zip(widths, widths[1:]))
        self.conv_blocks = nn.ModuleList(ElasticConvBlock(c) for c in widths)
        self.sep_blocks = nn.ModuleList(ElasticSepBlock(c) for c in widths)
        self.pool = nn.MaxPool1d(3, stride=1, padding=1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                                  nn.Linear(widths[-1], num_classes))
        self.active_config: Config = {}
        self.activate(self.space.largest())

    def activate(self, config: Config) -> None:
        self.active_config = self.space.canonical(config)

    def _block(self, stage: int, config: Config, static: bool):
        kind = config[f"s{stage}.type"]
        kernel = config[f"s{stage}.kernel"]
        if kind == "conv":
            width = config[f"s{stage}.width"]
            block = self.conv_blocks[stage]
            return block.to_static(kernel, width) if static else (
                lambda x: block(x, kernel, width))
        if kind == "sep":
            expand = config[f"s{stage}.expand"]
            block = self.sep_blocks[stage]
            return block.to_static(kernel, expand) if static else (
                lambda x: block(x, kernel, expand))
        if kind == "pool":
            return nn.MaxPool1d(3, stride=1, padding=1) if static else self.pool
        return nn.Identity() if static else (lambda x: x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in range(len(self.widths)):
            if stage:
                x = self.transitions[stage - 1](x)
            x = self._block(stage, self.active_config, static=False)(x)
        return self.head(x)

    def extract(self, config: Config) -> nn.Sequential:
        """A plain ``nn.Sequential`` of standard layers with copies of the sliced weights."""
        config = self.space.canonical(config)
        layers: list[nn.Module] = [copy.deepcopy(self.stem)]
        for stage in range(len(self.widths)):
            if stage:
                layers.append(copy.deepcopy(self.transitions[stage - 1]))
            block = self._block(stage, config, static=True)
            if not isinstance(block, nn.Identity):
                layers.append(block)
        layers.append(copy.deepcopy(self.head))
        return nn.Sequential(*layers).train(self.training)

"""A user's own elastic super-network: a 1-D CNN for sensor signals, written with plain
PyTorch against hwnas's protocol only (nothing of hwnas is imported here).

The protocol (see ``hwnas.supernets.base.Supernet``):

- ``space``: the search space, a ``hwnas.space.SearchSpace`` (built here from plain
  tuples by :func:`make_space`, so that this file needs hwnas only for that one object);
- ``activate(config)``: switch the shared weights to the sub-network ``config``, in place;
- ``extract(config)``: a standalone ``nn.Module`` with the sub-network's weights copied
  out, computing what the activated super-network computes;
- ``example_input(batch_size)``: inputs to measure with (or an ``input_shape`` attribute).

Elastic here: the number of blocks (1-3), and per block its channels (8, 16 or 24, the
first ones of the full weight) and its kernel (3 or 5, the centre of the full kernel).

>>> net = make_supernet(length=64, num_classes=4)
>>> config = {"depth": 2, "block0.channels": 8, "block0.kernel": 3, "block1.channels": 24,
...           "block1.kernel": 5, "block2.channels": 8, "block2.kernel": 3}
>>> net.activate(config)
>>> x = net.example_input(3)
>>> bool(torch.allclose(net.eval()(x), net.extract(config).eval()(x), atol=1e-5))
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = (8, 16, 24)
KERNELS = (3, 5)
MAX_BLOCKS = 3


def make_space():
    """The search space: depth, and channels and kernel per block (a block's dimensions
    count only while the depth reaches it)."""
    from hwnas.space import Choice, SearchSpace

    dims = [Choice("depth", tuple(range(1, MAX_BLOCKS + 1)))]
    for block in range(MAX_BLOCKS):
        condition = None if block == 0 else ("depth", block + 1)
        dims.append(Choice(f"block{block}.channels", CHANNELS, condition))
        dims.append(Choice(f"block{block}.kernel", KERNELS, condition))
    return SearchSpace(dims)


def _centre(weight: torch.Tensor, kernel: int) -> torch.Tensor:
    start = (weight.shape[-1] - kernel) // 2
    return weight[..., start:start + kernel]


class SignalNet(nn.Module):
    """Conv-BN-ReLU blocks (stride 1, 'same' padding), global average pool, linear head."""

    def __init__(self, in_channels: int, length: int, num_classes: int) -> None:
        super().__init__()
        self.input_shape = (in_channels, length)
        self.space = make_space()
        widest, largest_kernel = max(CHANNELS), max(KERNELS)
        self.convs = nn.ModuleList(
            nn.Conv1d(in_channels if b == 0 else widest, widest, largest_kernel, bias=False)
            for b in range(MAX_BLOCKS))
        self.norms = nn.ModuleList(nn.BatchNorm1d(widest) for _ in range(MAX_BLOCKS))
        self.head = nn.Linear(widest, num_classes)
        self.config = self.space.largest()

    def activate(self, config: dict) -> None:
        self.config = self.space.canonical(config)  # validates: an unknown name raises

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.randn(batch_size, *self.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in range(self.config["depth"]):
            channels = self.config[f"block{block}.channels"]
            kernel = self.config[f"block{block}.kernel"]
            conv, norm = self.convs[block], self.norms[block]
            weight = _centre(conv.weight[:channels, : x.shape[1]], kernel)
            x = F.conv1d(x, weight, padding=kernel // 2)
            x = F.batch_norm(x, norm.running_mean[:channels], norm.running_var[:channels],
                             norm.weight[:channels], norm.bias[:channels], self.training,
                             norm.momentum, norm.eps)
            x = torch.relu(x)
        x = x.mean(dim=2)
        return F.linear(x, self.head.weight[:, : x.shape[1]], self.head.bias)

    def extract(self, config: dict) -> nn.Module:
        config = self.space.canonical(config)
        layers: list[nn.Module] = []
        previous = self.input_shape[0]
        for block in range(config["depth"]):
            channels = config[f"block{block}.channels"]
            kernel = config[f"block{block}.kernel"]
            conv = nn.Conv1d(previous, channels, kernel, padding=kernel // 2, bias=False)
            conv.weight.data.copy_(_centre(self.convs[block].weight[:channels, :previous],
                                           kernel))
            full = self.norms[block]
            norm = nn.BatchNorm1d(channels, eps=full.eps, momentum=full.momentum)
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(norm, name).data.copy_(getattr(full, name).data[:channels])
            layers += [conv, norm, nn.ReLU()]
            previous = channels
        head = nn.Linear(previous, self.head.out_features)
        head.weight.data.copy_(self.head.weight[:, :previous])
        head.bias.data.copy_(self.head.bias)
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), head]
        return nn.Sequential(*layers).train(self.training)


def make_supernet(in_channels: int = 1, length: int = 64, num_classes: int = 4) -> SignalNet:
    """The factory hwnas calls: ``--supernet signal_net:make_supernet``. hwnas passes the
    options it can read off the data (``in_channels``, ``num_classes``) by name; the others
    come from ``--supernet-option KEY=VALUE``."""
    return SignalNet(in_channels, length, num_classes)

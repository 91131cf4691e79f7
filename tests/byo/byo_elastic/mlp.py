"""An elastic MLP: elastic depth (1-3 hidden layers) and width per layer, with batch norm.

Slicing is done here, without hwnas's elastic layers: layer ``i`` keeps the first ``width``
rows of its full weight and the first columns its input has.

>>> net = make_supernet(input_size=5, num_classes=3)
>>> config = net.space.sample(__import__("numpy").random.default_rng(0))
>>> net.activate(config)
>>> x = net.example_input(4)
>>> bool(torch.allclose(net.eval()(x), net.extract(config).eval()(x), atol=1e-6))
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.space import Choice, SearchSpace

WIDTHS = (8, 16, 32)
MAX_DEPTH = 3


class ElasticMLP(nn.Module):
    def __init__(self, input_size: int, num_classes: int) -> None:
        super().__init__()
        self.input_size = input_size
        dims = [Choice("depth", (1, 2, 3))]
        for layer in range(MAX_DEPTH):
            condition = None if layer == 0 else ("depth", layer + 1)
            dims.append(Choice(f"width{layer}", WIDTHS, condition))
        self.space = SearchSpace(dims)
        widest = max(WIDTHS)
        self.hidden = nn.ModuleList(
            nn.Linear(input_size if i == 0 else widest, widest) for i in range(MAX_DEPTH))
        self.norms = nn.ModuleList(nn.BatchNorm1d(widest) for _ in range(MAX_DEPTH))
        self.head = nn.Linear(widest, num_classes)
        self.config = self.space.largest()

    def activate(self, config: dict) -> None:
        self.config = self.space.canonical(config)

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.randn(batch_size, self.input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in range(self.config["depth"]):
            width = self.config[f"width{layer}"]
            linear, norm = self.hidden[layer], self.norms[layer]
            x = F.linear(x, linear.weight[:width, : x.shape[1]], linear.bias[:width])
            x = F.batch_norm(x, norm.running_mean[:width], norm.running_var[:width],
                             norm.weight[:width], norm.bias[:width],
                             self.training, norm.momentum, norm.eps)
            x = torch.relu(x)
        return F.linear(x, self.head.weight[:, : x.shape[1]], self.head.bias)

    def extract(self, config: dict) -> nn.Module:
        config = self.space.canonical(config)
        layers: list[nn.Module] = []
        previous = self.input_size
        for layer in range(config["depth"]):
            width = config[f"width{layer}"]
            linear = nn.Linear(previous, width)
            linear.weight.data.copy_(self.hidden[layer].weight[:width, :previous])
            linear.bias.data.copy_(self.hidden[layer].bias[:width])
            full = self.norms[layer]
            norm = nn.BatchNorm1d(width)
            norm.weight.data.copy_(full.weight[:width])
            norm.bias.data.copy_(full.bias[:width])
            norm.running_mean.copy_(full.running_mean[:width])
            norm.running_var.copy_(full.running_var[:width])
            layers += [linear, norm, nn.ReLU()]
            previous = width
        head = nn.Linear(previous, self.head.out_features)
        head.weight.data.copy_(self.head.weight[:, :previous])
        head.bias.data.copy_(self.head.bias)
        layers.append(head)
        return nn.Sequential(*layers).train(self.training)


def make_supernet(input_size: int = 12, num_classes: int = 3) -> ElasticMLP:
    """The factory hwnas calls (``--supernet byo_elastic.mlp:make_supernet``)."""
    return ElasticMLP(input_size, num_classes)

"""The few plain building blocks an extracted sub-network needs beyond ``nn.Sequential``:
a residual connection and squeeze-and-excitation. They hold only plain torch layers, so an
extracted sub-network exports to ``.pt2`` and ONNX without hwnas (a pickled ``.pt`` needs
these classes importable).

>>> block = Residual(nn.Sequential(nn.Linear(3, 3)), after=nn.ReLU())
>>> tuple(block(torch.randn(2, 3)).shape)
(2, 3)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor``, never below 90% of it (as
    MobileNet and Once-for-All round channel counts).

    >>> make_divisible(16 * 4.5), make_divisible(10), make_divisible(3)
    (72, 16, 8)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class Residual(nn.Module):
    """``after(body(x) + shortcut(x))``; the shortcut is the identity when None, and
    ``after`` too."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None,
                 after: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.after = after if after is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(self.body(x) + self.shortcut(x))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (MobileNetV3): channels scaled by
    ``hardsigmoid(expand(relu(reduce(mean over space))))``."""

    def __init__(self, reduce: nn.Conv2d, expand: nn.Conv2d) -> None:
        super().__init__()
        self.reduce, self.expand = reduce, expand

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.hardsigmoid(self.expand(F.relu(self.reduce(scale))))
        return x * scale


__all__ = ["Residual", "SqueezeExcite", "make_divisible"]

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




class Patches(nn.Module):
    """``(N, C, *spatial)`` -> ``(N, tokens, C * patch)``: the flattened sample cut into
    consecutive patches of ``patch`` values per channel."""

    def __init__(self, patch: int) -> None:
        super().__init__()
        self.patch = patch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2)
        n, channels, length = x.shape
        x = x.reshape(n, channels, length // self.patch, self.patch)
        return x.permute(0, 2, 1, 3).reshape(n, length // self.patch, channels * self.patch)


class TokenEmbedding(nn.Module):
    """Patches, a linear embedding, and a learned position embedding."""

    def __init__(self, patch: int, embed: nn.Linear, positions: nn.Embedding) -> None:
        super().__init__()
        self.patches, self.embed, self.positions = Patches(patch), embed, positions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(self.patches(x))
        index = torch.arange(tokens.shape[1], device=tokens.device)
        return tokens + self.positions(index)


class SelfAttention(nn.Module):
    """Multi-head self-attention; the number of heads is the query width / ``head_dim``,
    so the same module serves an elastic layer (whose projections are sliced) and a plain
    one. Uses ``scaled_dot_product_attention``."""

    def __init__(self, query: nn.Linear, key: nn.Linear, value: nn.Linear, out: nn.Linear,
                 head_dim: int) -> None:
        super().__init__()
        self.query, self.key, self.value, self.out = query, key, value, out
        self.head_dim = head_dim

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, tokens, width = x.shape
        return x.reshape(n, tokens, width // self.head_dim, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._heads(f(x)) for f in (self.query, self.key, self.value))
        attended = F.scaled_dot_product_attention(q, k, v)
        n, heads, tokens, _ = attended.shape
        return self.out(attended.transpose(1, 2).reshape(n, tokens, heads * self.head_dim))


class PreNormResidual(nn.Module):
    """``x + body(norm(x))`` (a pre-norm transformer sub-layer)."""

    def __init__(self, norm: nn.Module, body: nn.Module) -> None:
        super().__init__()
        self.norm, self.body = norm, body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(self.norm(x))


class MeanTokens(nn.Module):
    """``(N, tokens, width)`` -> ``(N, width)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


__all__ = ["MeanTokens", "Patches", "PreNormResidual", "Residual", "SelfAttention", "SqueezeExcite",
           "TokenEmbedding", "make_divisible"]

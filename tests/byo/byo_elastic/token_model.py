"""A model whose inputs are a dict (token ids and a mask) and whose outputs carry ``.logits``,
as Hugging Face models do: the shape of inputs and outputs a transformer brings.

>>> model = TokenClassifier()
>>> model(**model.example_input(2)).logits.shape
torch.Size([2, 3])
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn


class TokenClassifier(nn.Module):
    def __init__(self, vocabulary: int = 10, length: int = 5, classes: int = 3) -> None:
        super().__init__()
        self.vocabulary, self.length = vocabulary, length
        self.embed = nn.Embedding(vocabulary, 4)
        self.head = nn.Linear(4, classes)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> SimpleNamespace:
        pooled = (self.embed(ids) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return SimpleNamespace(logits=self.head(pooled))

    def example_input(self, batch_size: int = 1) -> dict[str, torch.Tensor]:
        return {"ids": torch.randint(self.vocabulary, (batch_size, self.length)),
                "mask": torch.ones(batch_size, self.length)}


class LogitsOnly(nn.Module):
    """The same model returning the logits tensor (what an exporter traces)."""

    def __init__(self, model: TokenClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(ids, mask).logits

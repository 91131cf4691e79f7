"""The measurement contract: a measure takes a standalone sub-network and returns a number."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from hwnas.data import DataSplits


@dataclass(frozen=True)
class Measurement:
    """One measured figure; ``spread`` is the inter-quartile range of repeats (0 if exact)."""

    value: float
    spread: float = 0.0
    repeats: int = 1

    @property
    def is_finite(self) -> bool:
        return math.isfinite(self.value)


@dataclass
class MeasureContext:
    """What a measure may need besides the model: an example input and the data."""

    example_input: torch.Tensor
    data: DataSplits | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class Measure(ABC):
    """A named figure of a sub-network. Subclasses set ``name``, ``unit`` and ``direction``."""

    name: str = ""
    unit: str = ""
    direction: str = "minimize"
    #: measures that change the model (batch-norm recalibration) get their own copy
    mutates_model: bool = False

    @abstractmethod
    def __call__(self, model: nn.Module, context: MeasureContext) -> Measurement:
        """Measure ``model`` (a standalone sub-network in eval mode)."""

    def settings(self) -> dict[str, Any]:
        """The measure's options, stored with the study so a resume measures the same way."""
        return {}

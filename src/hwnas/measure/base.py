"""The measurement contract: a measure takes one artifact of a sub-network, returns a figure.

An artifact is what the evaluation pipeline hands a measure: the prepared torch module
(``"module"``), its ONNX bytes (``"onnx"``) or an ONNX Runtime session over them
(``"session"``). Each measure declares the one it consumes (:attr:`Measure.consumes`), so a
transform (quantization, say) can change what the measures see without their knowing.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwnas.data import DataSplits
    from hwnas.supernets.io import Inputs

ARTIFACTS = ("module", "onnx", "session")


@dataclass(frozen=True)
class Measurement:
    """One measured figure; ``spread`` is the inter-quartile range of repeats (0 if exact).

    >>> Measurement(1.5, 0.25, 15).is_finite, Measurement(float("nan")).is_finite
    (True, False)
    """

    value: float
    spread: float = 0.0
    repeats: int = 1
    #: "ok", or "noisy" when the repeats still disagreed after re-measuring (see
    #: :mod:`hwnas.measure.latency`); exact figures are always "ok"
    quality: str = "ok"

    @property
    def is_finite(self) -> bool:
        return math.isfinite(self.value)


@dataclass
class MeasureContext:
    """What a measure may need besides the artifact: example inputs for one sample (a
    tensor, tuple or dict; see :mod:`hwnas.supernets.io`), the data, and the super-network
    whose ``predictions``/``loss`` hooks decode the outputs."""

    example_inputs: Inputs
    data: DataSplits | None = None
    supernet: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


class Measure(ABC):
    """A kind of figure of a sub-network. Subclasses set ``name`` (the kind, the registry
    name), ``unit`` and ``direction``; ``consumes`` says which artifact they measure, and
    ``needs_data`` whether they need the data."""

    name: str = ""
    unit: str = ""
    direction: str = "minimize"
    needs_data: bool = False
    #: "cheap" (counted from the sub-network in milliseconds: parameters, MACs, size, a
    #: latency lookup) or "expensive"; under constraints the pipeline measures the cheap
    #: ones first and stops on a violation (:meth:`hwnas.evaluation.Pipeline.measure_under`)
    cost: str = "expensive"

    @property
    def consumes(self) -> str:
        """The artifact this measure takes: one of :data:`ARTIFACTS`."""
        return "module"

    @abstractmethod
    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        """Measure ``artifact`` (for ``"module"``: a standalone sub-network in eval mode)."""

    def settings(self) -> dict[str, Any]:
        """The measure's options, stored with the study so a resume measures the same way."""
        return {}

    def describe(self) -> str:
        """The settings as ``k=v, ...`` (for printing a figure with how it was measured)."""
        return ", ".join(f"{k}={v}" for k, v in self.settings().items())

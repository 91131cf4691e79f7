"""Objectives, and the evaluator that turns a config into measurements.

An evaluation is a plain function of a config, so that it can run in this process today
and on a remote worker tomorrow with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hwnas.errors import InvalidConfigError
from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.measures import create_measure
from hwnas.space import Config

if TYPE_CHECKING:
    from hwnas.data import DataSplits
    from hwnas.supernets import Supernet

DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Objective:
    """A measure to optimise, and whether smaller or larger is better."""

    name: str
    direction: str
    measure: Measure

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise InvalidConfigError(
                f"objective {self.name!r}: direction must be one of {DIRECTIONS}, "
                f"got {self.direction!r}"
            )

    @classmethod
    def named(cls, name: str, direction: str | None = None,
              settings: dict | None = None) -> Objective:
        """The registered measure ``name`` as an objective, in its natural direction."""
        measure = create_measure(name, settings)
        return cls(name, direction or measure.direction, measure)


class Evaluator:
    """Measures sub-networks of ``supernet``: extract, then run every measure on the copy.

    Accuracy runs first, since its batch-norm recalibration gives the deployed statistics.
    """

    def __init__(self, supernet: Supernet, measures: Sequence[Measure],
                 data: DataSplits | None = None) -> None:
        names = [m.name for m in measures]
        if len(set(names)) != len(names):
            raise InvalidConfigError(f"a measure is listed twice: {names}")
        self.supernet = supernet
        self.measures = sorted(measures, key=lambda m: m.name != "accuracy")
        example = getattr(supernet, "example_input", None)
        if example is None:
            raise InvalidConfigError(
                "the super-network needs an example_input(batch_size) method for measuring"
            )
        self.context = MeasureContext(example(1), data)

    def __call__(self, config: Config) -> dict[str, Measurement]:
        model = self.supernet.extract(config)
        model.eval()
        return {measure.name: measure(model, self.context) for measure in self.measures}

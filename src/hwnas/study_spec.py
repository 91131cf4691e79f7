"""What a study needs to rebuild itself: the space, objectives, metrics, strategy, source.

It is stored as JSON in the Optuna study's user attributes, so that ``Study.load`` on a
fresh process (a resume) measures the same way and proposes the same sub-networks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hwnas.errors import StudyError
from hwnas.space import SearchSpace

FORMAT = "hwnas-study/1"


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    direction: str | None = None  # set for objectives, None for recorded metrics


@dataclass(frozen=True)
class StudySpec:
    space: SearchSpace
    objectives: list[MeasureSpec]
    metrics: list[MeasureSpec]
    strategy: str
    strategy_options: dict[str, Any]
    seed: int
    checkpoint: str | None = None
    dataset: str | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)
    reference_point: list[float] | None = None

    @property
    def directions(self) -> list[str]:
        return [o.direction or "minimize" for o in self.objectives]

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["space"] = self.space.to_dict()
        data["format"] = FORMAT
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> StudySpec:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StudyError(f"{source!r} holds an Optuna study that hwnas did not create")
        return cls(
            space=SearchSpace.from_dict(data["space"]),
            objectives=[MeasureSpec(**o) for o in data["objectives"]],
            metrics=[MeasureSpec(**m) for m in data["metrics"]],
            strategy=data["strategy"], strategy_options=data["strategy_options"],
            seed=data["seed"], checkpoint=data.get("checkpoint"), dataset=data.get("dataset"),
            dataset_options=data.get("dataset_options", {}),
            reference_point=data.get("reference_point"),
        )

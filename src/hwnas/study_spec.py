"""What a study needs to rebuild itself: the space, the evaluator spec (source, data,
objectives and metrics by key), the strategy, the seed and the reference point.

It is stored as JSON in the Optuna study's user attributes, so that ``Study.load`` on a
fresh process (a resume) measures the same way and proposes the same sub-networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hwnas.constraints import Constraint, parse_constraints
from hwnas.errors import StudyError
from hwnas.evaluation.spec import EvaluatorSpec, MeasureSpec
from hwnas.space import SearchSpace

FORMAT = "hwnas-study/2"


@dataclass(frozen=True)
class StudySpec:
    space: SearchSpace
    evaluation: EvaluatorSpec
    strategy: str
    strategy_options: dict[str, Any]
    seed: int
    reference_point: list[float] | None = None
    #: bounds on measured keys (:mod:`hwnas.constraints`); checked on resume
    constraints: tuple[Constraint, ...] = ()
    #: whether a proposal stopped by a cheap constraint counts toward n_evaluations
    count_infeasible: bool = False

    @property
    def objectives(self) -> list[MeasureSpec]:
        return self.evaluation.objectives

    @property
    def metrics(self) -> list[MeasureSpec]:
        return self.evaluation.metrics

    @property
    def directions(self) -> list[str]:
        return [o.direction or "minimize" for o in self.objectives]

    @property
    def objective_keys(self) -> list[str]:
        return [o.key for o in self.objectives]

    objective_names = objective_keys

    @property
    def keys(self) -> list[str]:
        """Every figure's key: objectives first, then metrics."""
        return [m.key for m in self.evaluation.measures]

    def units(self) -> dict[str, str]:
        return {m.key: m.unit for m in self.evaluation.measures}

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "space": self.space.to_dict(),
                "evaluation": self.evaluation.to_dict(), "strategy": self.strategy,
                "strategy_options": self.strategy_options, "seed": self.seed,
                "reference_point": self.reference_point,
                "constraints": [c.to_text() for c in self.constraints],
                "count_infeasible": self.count_infeasible}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, source: str) -> StudySpec:
        if data is None:
            raise StudyError(
                f"the creation of study {source!r} was interrupted; run the same command "
                "again to create it, or pass --overwrite"
            )
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            if isinstance(found, str) and found.startswith("hwnas-study/"):
                raise StudyError(f"{source!r} was made by another hwnas version ({found}); "
                                 f"this one reads {FORMAT}: start a new study with --overwrite")
            raise StudyError(f"{source!r} holds an Optuna study that hwnas did not create")
        return cls(
            space=SearchSpace.from_dict(data["space"]),
            evaluation=EvaluatorSpec.from_dict(data["evaluation"]),
            strategy=data["strategy"], strategy_options=data["strategy_options"],
            seed=data["seed"], reference_point=data.get("reference_point"),
            constraints=tuple(parse_constraints(data.get("constraints", []))),
            count_infeasible=bool(data.get("count_infeasible", False)),
        )

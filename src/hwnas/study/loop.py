"""The search loop's rules: what counts as a valid evaluation, and when failures stop it.

>>> from hwnas.measure import Measurement
>>> check_measured({"a": Measurement(1.0)}, ["a"], first=True)[1:]
('', False)
>>> check_measured({"a": 0.5}, ["a"], first=False)[1]
"the evaluator returned 0.5 (float) for 'a', not a hwnas Measurement"
>>> check_measured({"b": Measurement(1.0)}, ["a"], first=True)[2]
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hwnas.errors import EvaluationError
from hwnas.measure import Measurement
from hwnas.results import Result


def check_measured(measured: Any, objective_keys: Sequence[str],
                   first: bool) -> tuple[dict[str, Measurement], str, bool]:
    """``(figures, problem, stop)``: the valid figures, why the trial fails ("" if it does
    not), and whether the search must stop at once (the first evaluation lacks an
    objective: the evaluator cannot produce it, so measuring on would only burn budget)."""
    if not isinstance(measured, Mapping):
        return {}, (f"the evaluator returned a {type(measured).__name__}, not a dict of "
                    "{key: Measurement}"), False
    figures: dict[str, Measurement] = {}
    for key, value in measured.items():
        if not isinstance(value, Measurement):
            return {}, (f"the evaluator returned {value!r} ({type(value).__name__}) for "
                        f"{key!r}, not a hwnas Measurement"), False
        figures[str(key)] = value
    for key in objective_keys:
        if key not in figures:
            return figures, (f"the evaluator returned no {key!r} (got {sorted(figures)}); it "
                             "must return every objective key"), first
        value = figures[key].value
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return figures, (f"objective {key!r} measured {value}; the sub-network is "
                             "skipped"), False
    return figures, "", False


@dataclass
class FailurePolicy:
    """Which exceptions fail a trial (the rest stop the search), and how many failed trials
    in a row stop it."""

    catch: tuple[type[Exception], ...] = (Exception,)
    max_consecutive_failures: int = 5
    consecutive: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.max_consecutive_failures < 1:
            raise EvaluationError(f"max_consecutive_failures must be >= 1, got "
                                  f"{self.max_consecutive_failures}")

    def record(self, result: Result, location: str) -> None:
        self.consecutive = 0 if result.ok or result.screened else self.consecutive + 1
        if self.consecutive >= self.max_consecutive_failures:
            raise EvaluationError(
                f"{self.consecutive} evaluations failed in a row, the last (trial "
                f"{result.number}) with: {result.error}; every finished measurement is kept in "
                f"{location}; fix the cause and run again with --retry-failed"
            )

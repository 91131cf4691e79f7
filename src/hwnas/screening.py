"""Constrained studies: measure cheap figures first, book what a cheap violation stops.

A study with constraints (:mod:`hwnas.constraints`) measures each proposal with
:class:`ConstrainedEvaluator`: an evaluator that can (a :class:`~hwnas.evaluation.Pipeline`,
a tabulated benchmark's :class:`~hwnas.evaluation.LookupEvaluator`) counts the cheap
figures first (``Measure.cost == "cheap"``: parameters, MACs, model size) and, when they
break a constraint, returns only those. Such a proposal is **screened**: the study stores it
as an Optuna ``PRUNED`` trial (stopped early; no objective values) with user attributes

- ``measurement``: ``{"metrics", "spreads", "evaluate_seconds", "complete": False}`` (the
  cheap figures; the shape every trial has), and
- ``constraints``: ``{"feasible": False, "violation": v, "screened": True}``;

and the Optuna system attribute ``constraints`` (one value per constraint, feasible when
<= 0: Optuna's own convention, so optuna-dashboard shows feasibility). A fully measured
trial of a constrained study is COMPLETE with the same attributes (``screened: False``).

A screened proposal does **not** count toward ``n_evaluations`` by default: the budget is
the number of full measurements (the expensive part: timing, accuracy on data), which is
what a user sizes a search by; counting a proposal that cost a few milliseconds of
counting would let a tight constraint exhaust the budget on sub-networks that were never
measured. ``count_infeasible=True`` counts them.

>>> from hwnas.constraints import parse_constraints
>>> from hwnas.measure import Measurement
>>> limits = parse_constraints(["params<=100"])
>>> screened_violation({"params": Measurement(150.0)}, ["accuracy"], limits)
50.0
>>> screened_violation({"params": Measurement(50.0), "accuracy": Measurement(0.9)},
...                    ["accuracy"], limits) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwnas.constraints import Constraint, check_known_keys, parse_constraints, total_violation
from hwnas.measure.base import Measurement

CONSTRAINTS_ATTR = "constraints"
"""User attribute (feasibility, violation, screened) and Optuna system attribute (one value
per constraint, feasible when <= 0) of a constrained study's trials."""


def study_constraints(constraints: Sequence[Constraint | str] | None,
                      keys: Sequence[str]) -> tuple[Constraint, ...]:
    """Parse a study's constraints and refuse one on a key none of ``keys`` (the study's
    objectives and metrics) measures."""
    parsed = tuple(parse_constraints(constraints))
    check_known_keys(parsed, keys)
    return parsed


class ConstrainedEvaluator:
    """``evaluate`` under ``constraints``: cheap figures first where ``evaluate`` supports it
    (a ``measure_under(config, constraints)`` method), else every figure."""

    def __init__(self, evaluate: Any, constraints: Sequence[Constraint]) -> None:
        self.evaluate, self.constraints = evaluate, tuple(constraints)
        self.keys = getattr(evaluate, "keys", None)

    def __call__(self, config: Any) -> Any:
        measure_under = getattr(self.evaluate, "measure_under", None)
        if measure_under is not None:
            return measure_under(config, self.constraints)
        return self.evaluate(config)


def constrained_evaluator(evaluate: Any, constraints: Sequence[Constraint]) -> Any:
    """What a search loop measures with: ``evaluate`` itself without constraints."""
    return ConstrainedEvaluator(evaluate, constraints) if constraints else evaluate


def screened_violation(measured: Any, objective_keys: Sequence[str],
                       constraints: Sequence[Constraint]) -> float | None:
    """The total violation when ``measured`` is a screened evaluation (a dict of
    Measurements that lacks an objective and whose figures break a constraint), else None
    (it is a full measurement, or a failure for the study's usual checks)."""
    if not constraints or not isinstance(measured, Mapping):
        return None
    if not all(isinstance(m, Measurement) for m in measured.values()):
        return None
    if all(key in measured for key in objective_keys):
        return None
    values = {k: m.value for k, m in measured.items()}
    violation = total_violation([c for c in constraints if c.key in values], values)
    return violation if violation > 0.0 else None


def feasibility(constraints: Sequence[Constraint], metrics: Mapping[str, float],
                screened: bool = False) -> dict[str, Any]:
    """The ``constraints`` user attribute of a trial with these figures."""
    violation = total_violation(constraints, metrics) if not screened else \
        total_violation([c for c in constraints if c.key in metrics], metrics)
    return {"feasible": violation == 0.0 and not screened, "violation": violation,
            "screened": screened}


def optuna_constraint_values(constraints: Sequence[Constraint],
                             metrics: Mapping[str, float]) -> list[float]:
    """One value per constraint, feasible when <= 0 (Optuna's ``constraints_func``
    convention); a key a screened trial never measured gives 0 (its violated cheap keys
    already mark it infeasible)."""
    out = []
    for constraint in constraints:
        value = metrics.get(constraint.key)
        if value is None:
            out.append(0.0)
            continue
        out.append(float(value - constraint.bound if constraint.op == "<="
                         else constraint.bound - value))
    return out


def tell_screened(study: Any, trial: Any, measured: Mapping[str, Measurement],
                  seconds: float) -> Any:
    """Store a screened evaluation of ``trial`` (claimed by ``study``) as PRUNED with its
    cheap figures, and return its result (no values, no error: ``Result.screened``)."""
    from optuna.trial import TrialState

    measurement = {"metrics": {k: m.value for k, m in measured.items()},
                   "spreads": {k: m.spread for k, m in measured.items()},
                   "evaluate_seconds": seconds, "complete": False}
    study.storage.set_trial_user_attr(trial._trial_id, "measurement", measurement)
    mark_feasibility(study, trial, measurement["metrics"], screened=True)
    study.storage.set_trial_state_values(trial._trial_id, TrialState.PRUNED)
    return study._to_result(trial, None, measurement, None)


def mark_feasibility(study: Any, trial: Any, metrics: Mapping[str, float],
                     screened: bool = False) -> None:
    """Write the ``constraints`` attributes of a trial of a constrained study (nothing
    without constraints)."""
    constraints = study.spec.constraints
    if not constraints:
        return
    study.storage.set_trial_user_attr(trial._trial_id, CONSTRAINTS_ATTR,
                                      feasibility(constraints, metrics, screened))
    study.storage.set_trial_system_attr(trial._trial_id, CONSTRAINTS_ATTR,
                                        optuna_constraint_values(constraints, metrics))


__all__ = ["CONSTRAINTS_ATTR", "ConstrainedEvaluator", "constrained_evaluator", "feasibility",
           "mark_feasibility", "optuna_constraint_values", "screened_violation",
           "study_constraints", "tell_screened"]

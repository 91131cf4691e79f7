"""Picking the sub-network to ship: the best one that meets the user's budgets, and its
export checked against the figures the study recorded.

The rule (:data:`RULE`): among the finished evaluations that satisfy every constraint, the
best value of the ranking objective (``by``; default the study's first objective, in its
direction); ties go to the better values of the remaining objectives in order, then to the
earlier trial. When none satisfies them, nothing is picked and the closest one is named:
the smallest total *relative* violation, each constraint's distance to its bound divided by
the bound's magnitude, so milliseconds and fractions add up fairly.

>>> from hwnas.constraints import parse_constraint
>>> relative_violation([parse_constraint("latency<=2")], {"latency": 3.0})
0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas.constraints import (
    Constraint,
    check_known_keys,
    is_feasible,
    parse_constraint,
    parse_constraints,
)
from hwnas.errors import EvaluationError, InvalidConfigError, StudyError

if TYPE_CHECKING:
    from hwnas.results import Result
    from hwnas.study import Study

RULE = ("best {by} among the finished sub-networks meeting every constraint (ties: the "
        "other objectives in order, then the earlier trial)")
CLOSEST_RULE = ("smallest total relative violation: sum over the constraints of the distance "
                "to the bound divided by the bound's magnitude")
#: exported accuracy may differ from the recorded one by this much (absolute fraction):
#: ONNX Runtime's float arithmetic can flip a prediction sitting on a tie
DEFAULT_TOLERANCE = 0.005


def bounds(maximum: Sequence[str] | None = None, minimum: Sequence[str] | None = None,
           constraints: Sequence[str | Constraint] | None = None) -> list[Constraint]:
    """Constraints from ``--max KEY=VALUE``, ``--min KEY=VALUE`` and ``KEY<=V``/``KEY>=V``
    texts.

    >>> [c.to_text() for c in bounds(["latency@b1=2.0"], ["accuracy=0.95"])]
    ['latency@b1<=2', 'accuracy>=0.95']
    """
    texts: list[str | Constraint] = []
    for flag, op, items in (("--max", "<=", maximum), ("--min", ">=", minimum)):
        for item in items or []:
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip() \
                    or any(c in key + value for c in "<>="):
                raise InvalidConfigError(f"{flag} expects KEY=VALUE, e.g. {flag} "
                                         f"{'latency@b1=2.0' if op == '<=' else 'accuracy=0.95'}"
                                         f"; got {item!r}")
            texts.append(parse_constraint(f"{key.strip()}{op}{value.strip()}"))
    texts += list(constraints or [])
    return parse_constraints(texts)


def relative_violation(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> float:
    """Sum of each constraint's violation over its bound's magnitude (1 for a zero bound)."""
    total = 0.0
    for constraint in constraints:
        scale = abs(constraint.bound) or 1.0
        total += constraint.violation(metrics.get(constraint.key)) / scale
    return total


@dataclass(frozen=True)
class Pick:
    """What :func:`pick` found: ``chosen`` (None when no sub-network meets the
    constraints), else ``closest`` with its violations."""

    chosen: Result | None
    closest: Result | None
    constraints: list[Constraint]
    by: str
    direction: str
    rule: str
    n_candidates: int
    n_feasible: int
    violations: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.chosen is not None

    def to_dict(self) -> dict[str, Any]:
        picked = self.chosen or self.closest
        return {"picked": self.ok, "trial": picked.number if picked else None,
                "arch_id": picked.arch_id if picked else None,
                "config": picked.config if picked else None,
                "metrics": picked.metrics if picked else None,
                "spreads": picked.spreads if picked else None,
                "constraints": [c.to_text() for c in self.constraints], "by": self.by,
                "rule": self.rule, "candidates": self.n_candidates,
                "feasible": self.n_feasible,
                "violations": self.violations if not self.ok else {}}


def pick(study: Study, constraints: Sequence[str | Constraint] = (), *,
         by: str | None = None) -> Pick:
    """The best finished sub-network of ``study`` meeting ``constraints`` (see :data:`RULE`),
    or, if none does, the closest one (see :data:`CLOSEST_RULE`). Without constraints, the
    study's own (those it was searched under, if any) apply."""
    constraints = parse_constraints(constraints) or list(study.spec.constraints)
    check_known_keys(constraints, study.spec.keys)
    keys = study.spec.objective_keys
    directions = dict(zip(keys, study.spec.directions))
    by = by or keys[0]
    if by not in directions:
        raise InvalidConfigError(f"--by {by!r} is not an objective of the study; choose one "
                                 f"of {', '.join(keys)}")
    finished = study.finished()
    if not finished:
        raise StudyError(f"study {study.location!r} has no finished evaluation to pick from; "
                         "run `hwnas search` on it first")
    order = [by] + [k for k in keys if k != by]

    def rank(result: Result) -> tuple:
        signs = [-1.0 if directions[k] == "maximize" else 1.0 for k in order]
        return (*(s * result.metrics[k] for s, k in zip(signs, order)), result.number)

    feasible = [r for r in finished if is_feasible(constraints, r.metrics)]
    rule = RULE.format(by=f"{by} ({directions[by]})")
    common = {"constraints": constraints, "by": by, "direction": directions[by], "rule": rule,
              "n_candidates": len(finished), "n_feasible": len(feasible)}
    if feasible:
        return Pick(chosen=min(feasible, key=rank), closest=None, **common)
    closest = min(finished, key=lambda r: (relative_violation(constraints, r.metrics),
                                           rank(r)))
    violations = {c.to_text(): c.violation(closest.metrics.get(c.key)) for c in constraints
                  if c.violation(closest.metrics.get(c.key)) > 0}
    return Pick(chosen=None, closest=closest, violations=violations, **common)


# -- exporting the pick, verified ---------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One recorded figure measured again on the exported file."""

    key: str
    recorded: float
    measured: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return math.isfinite(self.measured) and abs(self.measured - self.recorded) \
            <= self.tolerance + 1e-12


def _file_predictor(path: Path) -> Any:
    """A callable ``inputs -> accuracy helper`` for the exported file, by its suffix."""
    if path.suffix == ".onnx":
        from hwnas.measure.onnx import onnx_session

        return "session", onnx_session(path.read_bytes())
    import torch

    if path.suffix == ".pt2":
        return "module", torch.export.load(path).module()
    return "module", torch.load(path, weights_only=False)


def _program_accuracy(module: Any, x: Any, y: Any, batch_size: int, supernet: Any) -> float:
    """Accuracy of a ``torch.export`` program's module (which refuses ``.eval()``; it was
    exported in eval mode)."""
    import torch

    from hwnas.supernets import io

    correct, count = 0, io.batch_size_of(x)
    with torch.no_grad():
        for start in range(0, count, batch_size):
            window = slice(start, start + batch_size)
            outputs = io.forward(module, io.slice_inputs(x, window))
            correct += int((io.predictions(supernet, outputs) == y[window]).sum())
    return correct / count


def verify_export(study: Study, result: Result, path: str | Path, *,
                  tolerance: float = DEFAULT_TOLERANCE) -> list[Check]:
    """Measure every accuracy figure of ``study`` again on the exported file ``path`` (on the
    split and data the study measured it on) and compare with what was recorded for
    ``result``. Returns the checks (empty if the study records no accuracy)."""
    from hwnas.evaluation import Pipeline
    from hwnas.measure.accuracy import evaluate_accuracy
    from hwnas.measure.measures import session_accuracy

    pipeline = study.evaluator()
    if not isinstance(pipeline, Pipeline):
        raise StudyError(f"study {study.location!r} does not measure a super-network")
    path = Path(path)
    kind, artifact = _file_predictor(path)
    checks = []
    for measure in study.spec.evaluation.measures:
        if measure.kind != "accuracy" or measure.key not in result.metrics:
            continue
        data = pipeline.context.data
        split = measure.settings.get("split", "val")
        x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
        batch = int(measure.settings.get("batch_size", 512))
        if kind == "session":
            measured = session_accuracy(artifact, x, y, batch, pipeline.supernet)
        elif path.suffix == ".pt2":
            measured = _program_accuracy(artifact, x, y, batch, pipeline.supernet)
        else:
            measured = evaluate_accuracy(artifact, x, y, batch, pipeline.supernet)
        checks.append(Check(measure.key, float(result.metrics[measure.key]), float(measured),
                            tolerance))
    return checks


@dataclass(frozen=True)
class Exported:
    path: Path
    result: Result
    checks: list[Check]


def export_result(study: Study, result: Result, out: str | Path, *, verify: bool = True,
                  tolerance: float = DEFAULT_TOLERANCE) -> Exported:
    """Write ``result``'s sub-network to ``out`` as it was measured and, with ``verify``,
    re-measure its accuracy on the file; a figure off by more than ``tolerance`` raises
    :class:`EvaluationError` (the file is kept to inspect)."""
    from hwnas.workflow import export_subnetwork

    written = export_subnetwork(out, study=study.location, trial=result.number)
    checks = verify_export(study, result, written, tolerance=tolerance) if verify else []
    bad = [c for c in checks if not c.ok]
    if bad:
        details = "; ".join(f"{c.key} recorded {c.recorded:.6g}, measured {c.measured:.6g} on "
                            f"the file (tolerance {c.tolerance:g})" for c in bad)
        raise EvaluationError(f"the exported file {str(written)!r} does not reproduce trial "
                              f"{result.number}'s figures: {details}; it is kept to inspect")
    return Exported(Path(written), result, checks)


def describe_pick(found: Pick, units: Mapping[str, str] | None = None) -> list[str]:
    """The pick in words: what was chosen and by which rule, or why nothing was."""
    from hwnas.report.figures import format_value

    units = units or {}
    shown = " and ".join(c.to_text() for c in found.constraints) or "no constraint"
    if found.chosen is not None:
        result = found.chosen
        lines = [f"picked trial {result.number} ({result.arch_id[:12]}): {found.rule}; "
                 f"{found.n_feasible} of {found.n_candidates} finished sub-networks meet "
                 f"{shown}"]
    else:
        result = found.closest
        broken = ", ".join(f"{text} (off by {value:.4g})"
                           for text, value in found.violations.items())
        lines = [f"no sub-network meets {shown} ({found.n_candidates} finished); the closest "
                 f"is trial {result.number} ({result.arch_id[:12]}), which violates {broken} "
                 f"[{CLOSEST_RULE}]"]
    for key, value in result.metrics.items():
        spread = result.spreads.get(key) or 0.0
        extra = f" (IQR {format_value(spread, units.get(key, ''))})" if spread else ""
        lines.append(f"  {key}: {format_value(value, units.get(key, ''))}{extra}")
    return lines

"""Reading a study: Pareto fronts and hypervolumes over all or some objectives, the
dataframe of every evaluation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.constraints import is_feasible
from hwnas.errors import StudyError
from hwnas.pareto import hypervolume, non_dominated
from hwnas.results import Result
from hwnas.study_spec import StudySpec

#: the study user attribute holding the reference point fixed from the first batch
REFERENCE_ATTR = "reference_point"
#: how far beyond the first batch's worst value the fixed reference point lies
REFERENCE_MARGIN = 0.1
#: the study user attribute holding latency figures measured again because they were noisy
REMEASURED_ATTR = "remeasured"
REFERENCE_RULE = (f"worst value of the first measured batch, widened by "
                  f"{REFERENCE_MARGIN:.0%} of that batch's range (not across zero); fixed "
                  "once and stored")


def apply_remeasured(study: Any, results: Sequence[Result],
                     stored: dict[str, Any] | None = None) -> list[Result]:
    """``results`` with the figures :func:`hwnas.measure.noise.remeasure_noisy_front`
    measured again in place, objective values too (``stored``: the study's
    :data:`REMEASURED_ATTR` attribute, if already read). Torch-free: reading a study
    (``show``, ``pick``, ``report``) applies them."""
    if stored is None:
        stored = study.storage.get_study_user_attrs(study._study_id).get(REMEASURED_ATTR, {})
    if not stored:
        return list(results)
    keys = study.spec.objective_keys
    updated = []
    for result in results:
        entry = stored.get(str(result.number))
        if entry is None:
            updated.append(result)
            continue
        metrics = {**result.metrics, **entry["metrics"]}
        values = tuple(float(metrics[k]) for k in keys) if result.values is not None else None
        updated.append(dataclasses.replace(
            result, metrics=metrics, spreads={**result.spreads, **entry["spreads"]},
            values=values, extras={**result.extras, "remeasured": sorted(entry["metrics"])}))
    return updated


def widened_worst(values: np.ndarray, directions: Sequence[str],
                  margin: float = REFERENCE_MARGIN) -> list[float]:
    """Per column, the worst value moved outwards by ``margin`` of the column's range (of
    its magnitude when the range is 0, or 1 when both are 0), not across zero.

    >>> widened_worst(np.array([[0.5, 1.0], [0.9, 3.0]]), ["maximize", "minimize"])
    [0.46, 3.2]
    >>> widened_worst(np.array([[0.05], [0.95]]), ["maximize"])
    [0.0]
    """
    point = []
    for column, direction in zip(np.asarray(values, dtype=float).T, directions):
        low, high = float(column.min()), float(column.max())
        scale = (high - low) or abs(high) or 1.0
        if direction == "maximize":  # a positive figure (accuracy) stays >= 0
            value = low - margin * scale
            point.append(round(max(value, 0.0) if low >= 0 else value, 12))
        else:
            value = high + margin * scale
            point.append(round(min(value, 0.0) if high <= 0 else value, 12))
    return point


class Analysis:
    """The reporting half of a study (mixed into :class:`hwnas.study.Study`)."""

    spec: StudySpec

    def finished(self) -> list[Result]:  # pragma: no cover - provided by TrialStore
        raise NotImplementedError

    def results(self) -> list[Result]:  # pragma: no cover - provided by TrialStore
        raise NotImplementedError

    def _chosen(self, objectives: Sequence[str] | None) -> tuple[list[str], list[str]]:
        """The objective keys asked for (default: all) and their directions."""
        keys = self.spec.objective_keys
        if objectives is None:
            return keys, self.spec.directions
        if isinstance(objectives, str):
            objectives = [objectives]
        unknown = [k for k in objectives if k not in keys]
        if unknown or not objectives:
            raise StudyError(f"objectives {list(objectives)}: {unknown or 'none'} not among the "
                             f"study's objectives {keys}")
        directions = dict(zip(keys, self.spec.directions))
        return list(objectives), [directions[k] for k in objectives]

    def _values(self, results: Sequence[Result], keys: list[str]) -> np.ndarray:
        return np.array([[r.metrics[k] for k in keys] for r in results], dtype=float)

    def feasible(self) -> list[Result]:
        """The finished sub-networks that meet every constraint of the study (all finished
        ones without constraints): what the front, the hypervolume and ``pick`` use.
        Latency figures measured again because they were noisy (``hwnas remeasure``, or at
        the end of a search) replace the first measurement."""
        constraints = self.spec.constraints
        finished = self.finished()
        remeasured = self.storage.get_study_user_attrs(self._study_id).get(REMEASURED_ATTR)
        if remeasured:
            finished = apply_remeasured(self, finished, remeasured)
        return [r for r in finished if is_feasible(constraints, r.metrics)]

    def infeasible_counts(self) -> dict[str, int]:
        """How many sub-networks broke a constraint: ``measured`` (fully measured, then
        found infeasible), ``screened`` (ruled out by a cheap figure, not measured further),
        and ``feasible``, the finished ones that meet every constraint."""
        results = self.results()
        constraints = self.spec.constraints
        measured = [r for r in results if r.ok]
        feasible = sum(is_feasible(constraints, r.metrics) for r in measured)
        screened = sum(r.screened for r in results) if constraints else 0
        return {"feasible": feasible, "measured": len(measured) - feasible,
                "screened": screened}

    def pareto_front(self, objectives: Sequence[str] | None = None) -> list[Result]:
        """The non-dominated finished sub-networks over ``objectives`` (keys; default all),
        sorted by those objectives' values; under constraints, of the feasible ones only
        (:meth:`infeasible_counts` says how many were left out)."""
        keys, directions = self._chosen(objectives)
        finished = self.feasible()  # under constraints: the feasible ones only
        if not finished:
            return []
        values = self._values(finished, keys)
        front = [finished[i] for i in non_dominated(values, directions)]
        return sorted(front, key=lambda r: tuple(r.metrics[k] for k in keys))

    def default_reference_point(self, objectives: Sequence[str] | None = None) -> list[float]:
        """The reference point hypervolumes are measured against, in the objectives' units.

        The one declared at creation (``reference_point=``), else one fixed once and stored
        with the study (see :meth:`fixed_reference_point`), so the hypervolumes of a resumed
        study, or of another study that shares it, compare."""
        keys, _ = self._chosen(objectives)
        stated = self.reference_point_by_key()
        return [float(stated[k]) for k in keys]

    def reference_point_by_key(self) -> dict[str, float]:
        """Every objective's reference value by key (declared, or fixed and stored)."""
        if self.spec.reference_point is not None:
            return dict(zip(self.spec.objective_keys,
                            (float(v) for v in self.spec.reference_point)))
        return self.fixed_reference_point()

    def reference_point_rule(self) -> str:
        """How the reference point was chosen, in words (for reports)."""
        if self.spec.reference_point is not None:
            return "declared when the study was created"
        stored = self._stored_reference()
        if stored is not None:
            return stored.get("rule", REFERENCE_RULE)
        return REFERENCE_RULE

    def fixed_reference_point(self) -> dict[str, float]:
        """The reference point fixed from the first batch of results, stored on first use.

        Rule (:data:`REFERENCE_RULE`): for each objective, the worst value of the first
        measured batch widened by :data:`REFERENCE_MARGIN` of that batch's range (or of the
        value's magnitude when the range is 0). Once stored it never moves, whatever is
        measured later."""
        stored = self._stored_reference()
        if stored is not None:
            return {k: float(v) for k, v in stored["point"].items()}
        finished = self.finished()
        if not finished:
            raise StudyError("the study has no finished evaluation yet: it has no reference "
                             "point (declare one with --reference-point KEY=VALUE,...)")
        first_batch = min(r.batch for r in finished)
        batch = [r for r in finished if r.batch == first_batch]
        point = widened_worst(self._values(batch, self.spec.objective_keys),
                              self.spec.directions)
        fixed = dict(zip(self.spec.objective_keys, point))
        record = {"point": fixed, "rule": REFERENCE_RULE, "batch": first_batch,
                  "n_results": len(batch)}
        self._store_reference(record)
        return fixed

    def _stored_reference(self) -> dict[str, Any] | None:
        storage = getattr(self, "storage", None)
        if storage is None:
            return None
        stored = storage.get_study_user_attrs(self._study_id).get(REFERENCE_ATTR)
        if not stored or set(stored.get("point", {})) != set(self.spec.objective_keys):
            return None
        return stored

    def _store_reference(self, record: dict[str, Any]) -> None:
        storage = getattr(self, "storage", None)
        if storage is None:
            return
        try:
            storage.set_study_user_attr(self._study_id, REFERENCE_ATTR, record)
        except Exception:  # noqa: BLE001 - a read-only study still reports with the same rule
            pass

    def hypervolume(self, reference_point: Sequence[float] | None = None,
                    objectives: Sequence[str] | None = None) -> float:
        """Hypervolume of the finished (under constraints: feasible) sub-networks over
        ``objectives`` (keys; default all) against ``reference_point`` (in the objectives'
        units; default :meth:`default_reference_point`)."""
        keys, directions = self._chosen(objectives)
        finished = self.feasible()  # under constraints: the feasible ones only
        if not finished:
            return 0.0
        reference = list(reference_point) if reference_point is not None \
            else self.default_reference_point(keys)
        return hypervolume(self._values(finished, keys), directions, reference)

    def to_dataframe(self) -> Any:
        """One row per evaluation: every figure by key with its spread, the config,
        timestamps; ``frame.attrs["units"]`` maps each key to its unit."""
        import pandas as pd

        def describe_policy(space: Any, config: Any) -> str | None:
            return None

        if self.spec.evaluation.transform is not None:  # only a quantized study has one
            from hwnas.quantization import describe_policy

        keys = self.spec.keys
        rows = []
        for result in self.results():
            row: dict[str, Any] = {"number": result.number, "arch_id": result.arch_id,
                                   "state": "complete" if result.ok else "failed",
                                   "batch": result.batch}
            if self.spec.constraints:  # screened: ruled out by a cheap figure, unmeasured
                row["state"] = "screened" if result.screened else row["state"]
                row["feasible"] = result.ok and is_feasible(self.spec.constraints,
                                                            result.metrics)
            for key in keys:
                row[key] = result.metrics.get(key, np.nan)
                row[f"{key}_spread"] = result.spreads.get(key, np.nan)
            row.update({f"config.{k}": v for k, v in result.config.items()})
            policy = describe_policy(self.spec.space, result.config)  # "7/9 int8"
            if policy is not None:
                row["policy"] = policy
            row["datetime_start"] = result.extras["datetime_start"]
            row["datetime_complete"] = result.extras["datetime_complete"]
            row["error"] = result.error
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame.attrs["units"] = self.spec.units()
        return frame

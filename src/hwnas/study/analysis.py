"""Reading a study: Pareto fronts and hypervolumes over all or some objectives, the
dataframe of every evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.errors import StudyError
from hwnas.pareto import hypervolume, non_dominated
from hwnas.results import Result
from hwnas.study_spec import StudySpec


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

    def pareto_front(self, objectives: Sequence[str] | None = None) -> list[Result]:
        """The non-dominated finished sub-networks over ``objectives`` (keys; default all),
        sorted by those objectives' values."""
        keys, directions = self._chosen(objectives)
        finished = self.finished()
        if not finished:
            return []
        values = self._values(finished, keys)
        front = [finished[i] for i in non_dominated(values, directions)]
        return sorted(front, key=lambda r: tuple(r.metrics[k] for k in keys))

    def default_reference_point(self, objectives: Sequence[str] | None = None) -> list[float]:
        """The stated reference point, else the worst finished value of each objective."""
        keys, directions = self._chosen(objectives)
        if self.spec.reference_point is not None:
            stated = dict(zip(self.spec.objective_keys, self.spec.reference_point))
            return [float(stated[k]) for k in keys]
        finished = self.finished()
        if not finished:
            raise StudyError("the study has no finished evaluation yet")
        values = self._values(finished, keys)
        return [float(values[:, i].min() if d == "maximize" else values[:, i].max())
                for i, d in enumerate(directions)]

    def hypervolume(self, reference_point: Sequence[float] | None = None,
                    objectives: Sequence[str] | None = None) -> float:
        """Hypervolume of the finished sub-networks over ``objectives`` (keys; default all)
        against ``reference_point`` (in the objectives' units; default
        :meth:`default_reference_point`)."""
        keys, directions = self._chosen(objectives)
        finished = self.finished()
        if not finished:
            return 0.0
        reference = list(reference_point) if reference_point is not None \
            else self.default_reference_point(keys)
        return hypervolume(self._values(finished, keys), directions, reference)

    def to_dataframe(self) -> Any:
        """One row per evaluation: every figure by key with its spread, the config,
        timestamps; ``frame.attrs["units"]`` maps each key to its unit."""
        import pandas as pd

        keys = self.spec.keys
        rows = []
        for result in self.results():
            row: dict[str, Any] = {"number": result.number, "arch_id": result.arch_id,
                                   "state": "complete" if result.ok else "failed",
                                   "batch": result.batch}
            for key in keys:
                row[key] = result.metrics.get(key, np.nan)
                row[f"{key}_spread"] = result.spreads.get(key, np.nan)
            row.update({f"config.{k}": v for k, v in result.config.items()})
            row["datetime_start"] = result.extras["datetime_start"]
            row["datetime_complete"] = result.extras["datetime_complete"]
            row["error"] = result.error
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame.attrs["units"] = self.spec.units()
        return frame

"""Is a study's latency trustworthy? Noisy figures, re-measuring the front, a warning.

A latency figure is *noisy* when its measure flagged it (``quality="noisy"``, stored in the
trial's ``measurement["quality"]``) or, for figures stored without a flag, when its spread
exceeds ``max_relative_spread`` of its value. :func:`remeasure_noisy_front` measures the
front members with a noisy latency again, on the study's own pipeline, and keeps the better
measurement (the one flagged ok, else the one with the smaller relative spread) in the
study's user attribute ``remeasured`` (finished Optuna trials cannot change);
:func:`~hwnas.study.analysis.apply_remeasured` (torch-free, so reading a study needs no
torch) puts those figures into results before they are reported, and
:func:`noise_warning` says when too many figures are noisy to rank sub-networks by latency.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from hwnas.measure.base import Measurement
from hwnas.results import Result
from hwnas.study.analysis import REMEASURED_ATTR, apply_remeasured

LATENCY_KINDS = ("latency",)


class NoisyMachineWarning(UserWarning):
    """Too many latency figures of a study were noisy to rank sub-networks by latency."""


def latency_keys(study: Any) -> list[str]:
    """The study's figure keys measured by a latency measure (not a table's prediction)."""
    return [m.key for m in study.spec.evaluation.measures if m.kind in LATENCY_KINDS]


def stored_quality(study: Any) -> dict[int, dict[str, str]]:
    """Trial number -> {key: quality} for the figures whose quality the study stored."""
    trials = study.storage.get_all_trials(study._study_id, deepcopy=False)
    return {t.number: dict(t.user_attrs.get("measurement", {}).get("quality", {}))
            for t in trials}


def is_noisy(result: Result, key: str, quality: dict[str, str] | None = None,
             max_relative_spread: float = 0.25) -> bool:
    """Whether ``result``'s figure ``key`` is noisy (see the module's docstring)."""
    if quality and key in quality:
        return quality[key] != "ok"
    value, spread = result.metrics.get(key), result.spreads.get(key, 0.0)
    if value is None or not value:
        return False
    return abs(spread / value) > max_relative_spread


def noise_warning(study: Any, results: Sequence[Result] | None = None,
                  max_noisy_fraction: float = 0.2,
                  max_relative_spread: float = 0.25) -> str | None:
    """A message when more than ``max_noisy_fraction`` of the finished latency figures are
    noisy, else None."""
    keys = latency_keys(study)
    results = [r for r in (results if results is not None else study.finished()) if r.ok]
    if not keys or not results:
        return None
    quality = stored_quality(study)
    flags = [is_noisy(r, k, quality.get(r.number), max_relative_spread)
             for r in results for k in keys if k in r.metrics]
    if not flags or sum(flags) / len(flags) <= max_noisy_fraction:
        return None
    return (f"{sum(flags)} of {len(flags)} latency figures ({', '.join(keys)}) were noisy: "
            "this machine is too busy to rank sub-networks by latency reliably; measure on "
            "a quieter machine, give latency fewer threads (threads=1) or more repeats, or "
            "re-measure the front (hwnas.measure.noise.remeasure_noisy_front)")


def warn_if_noisy(study: Any, **options: float) -> str | None:
    """Issue a :class:`NoisyMachineWarning` when :func:`noise_warning` has a message."""
    message = noise_warning(study, **options)
    if message:
        warnings.warn(message, NoisyMachineWarning, stacklevel=2)
    return message


def after_search(study: Any) -> str | None:
    """What a search calls when it ends: record the latency targets with the study
    (:func:`hwnas.measure.hardware.record_targets`), measure the front members with a noisy
    latency again (:func:`remeasure_noisy_front`, so the front reported uses the better
    figure), and warn if the machine was too noisy; returns the warning's message (None if
    none)."""
    from hwnas.measure.hardware import record_targets

    record_targets(study)
    if latency_keys(study):
        remeasure_noisy_front(study)
    return warn_if_noisy(study)


def _better(old: Measurement, new: Measurement) -> Measurement:
    if (old.quality == "ok") != (new.quality == "ok"):
        return new if new.quality == "ok" else old
    relative = [abs(m.spread / m.value) if m.value else float("inf") for m in (old, new)]
    return new if relative[1] <= relative[0] else old


def remeasure_noisy_front(study: Any, objectives: Sequence[str] | None = None,
                          max_relative_spread: float = 0.25) -> dict[int, dict[str, Any]]:
    """Measure the latency figures of the front members (over ``objectives``, default all)
    that are noisy again and store the better of the two measurements in the study's
    ``remeasured`` attribute; returns trial number -> {"metrics", "spreads", "quality"}.
    Only studies measured by a :class:`~hwnas.evaluation.Pipeline` can be re-measured."""
    from hwnas.evaluation.pipeline import Pipeline

    evaluator = study.evaluator()
    if not isinstance(evaluator, Pipeline):
        return {}
    keys = [k for k in latency_keys(study) if k in evaluator.measures]
    quality = stored_quality(study)
    stored = dict(study.storage.get_study_user_attrs(study._study_id).get(REMEASURED_ATTR, {}))
    done: dict[int, dict[str, Any]] = {}
    for result in study.pareto_front(objectives):
        noisy = [k for k in keys if k in result.metrics
                 and is_noisy(result, k, quality.get(result.number), max_relative_spread)]
        if not noisy or str(result.number) in stored:
            continue
        artifacts = evaluator.artifacts(result.config)
        entry: dict[str, Any] = {"metrics": {}, "spreads": {}, "quality": {}}
        for key in noisy:
            measure = evaluator.measures[key]
            old = Measurement(result.metrics[key], result.spreads.get(key, 0.0),
                              quality=quality.get(result.number, {}).get(key, "noisy"))
            best = _better(old, measure(artifacts.get(measure.consumes), evaluator.context))
            entry["metrics"][key], entry["spreads"][key] = best.value, best.spread
            entry["quality"][key] = best.quality
        stored[str(result.number)] = entry
        done[result.number] = entry
    if done:
        study.storage.set_study_user_attr(study._study_id, REMEASURED_ATTR, stored)
    return done


__all__ = ["LATENCY_KINDS", "REMEASURED_ATTR", "NoisyMachineWarning", "after_search",
           "apply_remeasured",
           "is_noisy", "latency_keys", "noise_warning", "remeasure_noisy_front",
           "stored_quality", "warn_if_noisy"]

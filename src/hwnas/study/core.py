"""The study: stores every evaluation, runs the ask/evaluate/tell loop, reports the front.

Built on Optuna's storage: one hwnas study is one Optuna study (named ``hwnas``), one
evaluation one trial whose params are the config, whose values are the objectives and whose
user attributes hold every metric, its spread, the canonical id and the batch it came from.
So optuna-dashboard opens a study, and several workers can share one database.

Life of an evaluation: the strategy's proposals are written as WAITING trials first; a
worker claims one atomically (WAITING -> RUNNING), measures it, and writes the result before
taking the next. A process killed mid-way leaves a RUNNING trial whose worker is gone; the
next run fails it and queues the same config again, so nothing finished is lost or
measured twice, and the proposals repeat exactly.
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from hwnas.errors import EvaluationError, StudyError
from hwnas.measure import Evaluator, Measure, Measurement, Objective, create_measure
from hwnas.pareto import hypervolume, non_dominated
from hwnas.progress import progress_bar
from hwnas.results import Result
from hwnas.space import Config, SearchSpace
from hwnas.storage import check_study_file, open_storage, sqlite_path
from hwnas.strategies import STRATEGIES, Strategy, create_strategy
from hwnas.study_spec import MeasureSpec, StudySpec

STUDY_NAME = "hwnas"
EvaluateFn = Callable[[Config], dict[str, Measurement]]
DEFAULT_METRICS = ("macs", "params", "model_size")


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_alive(worker: str | None) -> bool:
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine: trust it (heartbeats come with remote workers)
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


class Study:
    """A stored search. Create with :meth:`create`, reopen with :meth:`load`."""

    def __init__(self, location: str, storage: optuna.storages.BaseStorage,
                 spec: StudySpec, evaluate: EvaluateFn | None = None,
                 strategy: Strategy | None = None) -> None:
        self.location, self.storage, self.spec = location, storage, spec
        self._study_id = storage.get_study_id_from_name(STUDY_NAME)
        self._evaluate = evaluate
        self._strategy = strategy
        self.seconds = {"evaluate": 0.0, "strategy": 0.0, "storage": 0.0}
        self._waiting: list[FrozenTrial] = []

    # -- creating and opening ---------------------------------------------------------------
    @classmethod
    def create(
        cls,
        location: str | Path,
        *,
        space: SearchSpace | None = None,
        supernet: Any = None,
        checkpoint: str | Path | None = None,
        dataset: str | None = None,
        dataset_options: dict[str, Any] | None = None,
        objectives: Sequence[str | Objective] = ("accuracy", "latency"),
        metrics: Sequence[str | Measure] = DEFAULT_METRICS,
        strategy: str | Strategy = "nsga2",
        strategy_options: dict[str, Any] | None = None,
        evaluator: EvaluateFn | None = None,
        reference_point: Sequence[float] | None = None,
        seed: int = 0,
        overwrite: bool = False,
    ) -> Study:
        """A new study at ``location`` (a path for SQLite, or an Optuna storage URL).

        The sub-networks come from ``checkpoint`` (a trained super-network file, which a
        resume reloads), or a ``supernet`` object, or an ``evaluator`` over ``space``.
        """
        if checkpoint is not None and supernet is None:
            from hwnas.supernets import load_supernet

            supernet = load_supernet(checkpoint)
        if space is None:
            if supernet is None:
                raise StudyError("give the study a checkpoint, a supernet or a space")
            space = supernet.space
        objective_list = [o if isinstance(o, Objective) else Objective.named(o)
                          for o in objectives]
        objective_names = [o.name for o in objective_list]
        metric_list = [m if isinstance(m, Measure) else create_measure(m) for m in metrics]
        metric_list = [m for m in metric_list if m.name not in objective_names]
        if not objective_list:
            raise StudyError("a study needs at least one objective")
        if isinstance(strategy, Strategy):
            strategy_name, strategy_object = type(strategy).__name__, strategy
        else:
            strategy_name = strategy
            strategy_object = create_strategy(strategy, strategy_options)
        spec = StudySpec(
            space=space,
            objectives=[MeasureSpec(o.name, o.measure.settings(), o.direction)
                        for o in objective_list],
            metrics=[MeasureSpec(m.name, m.settings()) for m in metric_list],
            strategy=strategy_name, strategy_options=dict(strategy_options or {}),
            seed=seed, checkpoint=str(Path(checkpoint).resolve()) if checkpoint else None,
            dataset=dataset, dataset_options=dict(dataset_options or {}),
            reference_point=list(reference_point) if reference_point is not None else None,
        )
        path = sqlite_path(location)
        if path is not None and path.exists():
            if not overwrite:
                raise StudyError(
                    f"study {str(path)!r} already exists; resume it with `hwnas search "
                    f"--study {path}` (Study.load), or pass --overwrite to start again"
                )
            path.unlink()
        storage = open_storage(location)
        try:
            optuna.create_study(storage=storage, study_name=STUDY_NAME,
                                directions=spec.directions)
        except optuna.exceptions.DuplicatedStudyError:
            raise StudyError(f"{str(location)!r} already holds an hwnas study") from None
        study_id = storage.get_study_id_from_name(STUDY_NAME)
        storage.set_study_user_attr(study_id, "hwnas", spec.to_dict())
        if evaluator is None and supernet is not None:
            evaluator = _build_evaluator(spec, supernet,
                                         [o.measure for o in objective_list] + metric_list)
        return cls(str(location), storage, spec, evaluator, strategy_object)

    @classmethod
    def load(cls, location: str | Path, *, supernet: Any = None,
             evaluator: EvaluateFn | None = None, strategy: Strategy | None = None) -> Study:
        """Reopen a stored study; ``supernet``/``evaluator`` are needed only to search on
        when the study was not created from a checkpoint."""
        check_study_file(location)
        storage = open_storage(location)
        try:
            study_id = storage.get_study_id_from_name(STUDY_NAME)
        except KeyError:
            raise StudyError(f"{str(location)!r} holds no hwnas study") from None
        spec = StudySpec.from_dict(storage.get_study_user_attrs(study_id).get("hwnas"),
                                   str(location))
        study = cls(str(location), storage, spec, evaluator, strategy)
        if evaluator is None and supernet is not None:
            study._evaluate = _build_evaluator(spec, supernet, None)
        return study

    def warm_start(self, source: str | Path | Study) -> int:
        """Copy the finished measurements of an earlier study of the same search space into
        this one (nothing is re-measured); returns how many were added. They count towards
        ``optimize``'s total and every strategy learns from them."""
        other = source if isinstance(source, Study) else Study.load(source)
        if other.spec.space != self.spec.space:
            raise StudyError(
                f"cannot warm-start from {other.location!r}: its search space differs from this "
                "study's (it was made for another super-network)"
            )
        known = self._known_ids()
        added = 0
        for result in other.finished():
            if result.arch_id in known:
                continue
            missing = [n for n in self.spec.objective_names if n not in result.metrics]
            if missing:
                raise StudyError(
                    f"cannot warm-start from {other.location!r}: it did not record {missing}; "
                    f"it measured {sorted(result.metrics)}"
                )
            values = [float(result.metrics[n]) for n in self.spec.objective_names]
            proposal = self._proposal(result.config, batch=-1, position=added,
                                      warm_start=str(other.location))
            measurement = {"metrics": result.metrics, "spreads": result.spreads,
                           "evaluate_seconds": 0.0}
            self.storage.create_new_trial(self._study_id, template_trial=create_trial(
                state=TrialState.COMPLETE, values=values,
                user_attrs={"proposal": proposal, "measurement": measurement}))
            known.add(result.arch_id)
            added += 1
        return added

    # -- the search loop ------------------------------------------------------------------------
    def optimize(self, n_evaluations: int, *, progress: bool = True,
                 callback: Callable[[Result], None] | None = None) -> None:
        """Measure sub-networks until the study holds ``n_evaluations`` finished ones.

        Running it again on the same study resumes: finished measurements are kept and
        queued proposals are measured before the strategy is asked again.
        """
        if n_evaluations < 1:
            raise StudyError(f"n_evaluations must be >= 1, got {n_evaluations}")
        evaluate = self._evaluator()
        self._recover_stale_trials()
        strategy = self._bound_strategy()
        results = self.results()
        told = {r.number for r in results}
        strategy.tell(results)
        complete = sum(r.ok for r in results)
        known_ids = self._known_ids()
        with progress_bar("searching", total=n_evaluations, enabled=progress) as bar:
            bar.update(completed=min(complete, n_evaluations))
            while complete < n_evaluations:
                trial = self._claim_waiting_trial()
                if trial is None:
                    fresh = [r for r in self.results() if r.number not in told]
                    told.update(r.number for r in fresh)
                    strategy.tell(fresh)
                    if not self._propose(strategy, known_ids):
                        warnings.warn(f"the strategy proposed no new sub-network after "
                                      f"{complete} evaluations: the search space is spent",
                                      stacklevel=2)
                        break
                    continue
                result = self._run_trial(trial, evaluate)
                if result.ok:
                    complete += 1
                    bar.update(completed=min(complete, n_evaluations))
                if callback is not None:
                    callback(result)

    def _propose(self, strategy: Strategy, known_ids: set[str]) -> int:
        """Queue one whole batch (a budget that ends mid-batch leaves the rest queued for the
        next run, so the proposals never depend on the budget)."""
        start = time.perf_counter()
        configs = strategy.ask(strategy.batch_size)
        strategy_seconds = time.perf_counter() - start
        self.seconds["strategy"] += strategy_seconds
        batch = self._next_batch()
        fresh = []
        for config in configs:
            arch_id = self.spec.space.arch_id(config)
            if arch_id not in known_ids:
                known_ids.add(arch_id)
                fresh.append(self.spec.space.canonical(config))
        info = strategy.ask_info or None
        for position, config in enumerate(fresh):
            self._enqueue(config, batch, position, strategy_seconds / len(fresh),
                          info if position == 0 else None)
        return len(fresh)

    def _run_trial(self, trial: FrozenTrial, evaluate: EvaluateFn) -> Result:
        config = dict(_proposal(trial)["config"])
        start = time.perf_counter()
        try:
            measured = evaluate(config)
        except KeyboardInterrupt:
            self._fail(trial, "interrupted", requeue=True)
            raise
        except Exception as error:  # noqa: BLE001 - recorded, then reported as one error
            message = f"{type(error).__name__}: {error}"
            self._fail(trial, message)
            raise EvaluationError(
                f"evaluating trial {trial.number} ({_proposal(trial)['arch_id']}) failed: "
                f"{message}; every finished measurement is kept in {self.location}; fix the "
                "cause and run the search again to resume"
            ) from error
        evaluate_seconds = time.perf_counter() - start
        self.seconds["evaluate"] += evaluate_seconds
        start = time.perf_counter()
        values, problem = self._objective_values(measured)
        measurement = {"metrics": {name: m.value for name, m in measured.items()},
                       "spreads": {name: m.spread for name, m in measured.items()},
                       "evaluate_seconds": evaluate_seconds}
        self.storage.set_trial_user_attr(trial._trial_id, "measurement", measurement)
        if problem:
            self._fail(trial, problem)
        else:
            self.storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE, values)
        self.seconds["storage"] += time.perf_counter() - start
        return self._to_result(trial, values if not problem else None, measurement, problem)

    def _objective_values(self, measured: dict[str, Measurement]) -> tuple[list[float], str]:
        values = []
        for name in self.spec.objective_names:
            if name not in measured:
                return [], (f"the evaluator returned no {name!r} (got {sorted(measured)}); "
                            "it must measure every objective")
            value = measured[name].value
            if not math.isfinite(value):
                return [], f"objective {name!r} measured {value}; the sub-network is skipped"
            values.append(float(value))
        return values, ""

    # -- trials in storage ------------------------------------------------------------------
    def _proposal(self, config: Config, batch: int, position: int,
                  strategy_seconds: float = 0.0, **extra: Any) -> dict[str, Any]:
        """The ``proposal`` user attribute every trial carries (see :func:`_proposal`)."""
        return {"config": config, "arch_id": self.spec.space.arch_id(config), "batch": batch,
                "position": position, "strategy_seconds": strategy_seconds, **extra}

    def _enqueue(self, config: Config, batch: int, position: int, strategy_seconds: float,
                 strategy_info: dict[str, Any] | None = None) -> None:
        extra = {"strategy_info": strategy_info} if strategy_info else {}
        proposal = self._proposal(config, batch, position, strategy_seconds, **extra)
        template = create_trial(state=TrialState.WAITING, user_attrs={"proposal": proposal})
        self.storage.create_new_trial(self._study_id, template_trial=template)

    def _claim_waiting_trial(self) -> FrozenTrial | None:
        """Take the next queued proposal; the WAITING -> RUNNING switch is atomic, so two
        workers never measure the same trial."""
        for _ in range(2):
            if not self._waiting:
                waiting = self.storage.get_all_trials(self._study_id, deepcopy=False,
                                                      states=(TrialState.WAITING,))
                self._waiting = sorted(waiting, key=_order)
            while self._waiting:
                trial = self._waiting.pop(0)
                if self.storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING):
                    self.storage.set_trial_system_attr(trial._trial_id, "worker", _worker_id())
                    return trial
        return None

    def _fail(self, trial: FrozenTrial, message: str, requeue: bool = False) -> None:
        self.storage.set_trial_user_attr(trial._trial_id, "error", message)
        self.storage.set_trial_user_attr(trial._trial_id, "requeued", requeue)
        self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if requeue:
            proposal = _proposal(trial)
            self._enqueue(dict(proposal["config"]), proposal["batch"], proposal["position"],
                          proposal["strategy_seconds"])

    def _recover_stale_trials(self) -> None:
        running = self.storage.get_all_trials(self._study_id, deepcopy=False,
                                              states=(TrialState.RUNNING,))
        for trial in running:
            if not _worker_alive(trial.system_attrs.get("worker")):
                self._fail(trial, "its worker stopped before finishing", requeue=True)

    def _known_ids(self) -> set[str]:
        return {_proposal(t)["arch_id"] for t in self._trials()
                if "proposal" in t.user_attrs and not t.user_attrs.get("requeued")}

    def _next_batch(self) -> int:
        batches = [_proposal(t).get("batch", -1) for t in self._trials()]
        return max(batches, default=-1) + 1

    def _trials(self) -> list[FrozenTrial]:
        return self.storage.get_all_trials(self._study_id, deepcopy=False)

    @staticmethod
    def _to_result(trial: FrozenTrial, values: Sequence[float] | None = None,
                   measurement: dict | None = None, error: str | None = None) -> Result:
        """A stored trial as a result; the keyword arguments override what the (possibly
        stale) ``trial`` snapshot holds, so a just-finished trial needs no re-read."""
        if measurement is None:
            measurement = trial.user_attrs.get("measurement", {})
            values = trial.values if trial.state == TrialState.COMPLETE else None
            error = trial.user_attrs.get("error")
        proposal = _proposal(trial)
        return Result(
            number=trial.number, config=dict(proposal["config"]), arch_id=proposal["arch_id"],
            values=tuple(values) if values is not None else None,
            metrics=dict(measurement.get("metrics", {})),
            spreads=dict(measurement.get("spreads", {})),
            batch=proposal["batch"], error=error,
            extras={"position": proposal["position"],
                    "strategy_seconds": proposal["strategy_seconds"],
                    "datetime_start": trial.datetime_start,
                    "datetime_complete": trial.datetime_complete},
        )

    # -- strategy and evaluator ---------------------------------------------------------------
    def _bound_strategy(self) -> Strategy:
        if self._strategy is None:
            if self.spec.strategy not in STRATEGIES:
                raise StudyError(
                    f"this study was created with a strategy object ({self.spec.strategy}); "
                    "pass strategy= to Study.load to search on"
                )
            self._strategy = create_strategy(self.spec.strategy, self.spec.strategy_options)
        self._strategy.bind(self.spec.space, self.spec.directions, self.spec.seed)
        return self._strategy

    def _evaluator(self) -> EvaluateFn:
        if self._evaluate is None:
            if self.spec.checkpoint is None:
                raise StudyError(
                    "this study was created from an in-memory super-network or evaluator; "
                    "pass supernet= or evaluator= to Study.load to search on"
                )
            from hwnas.supernets import load_supernet

            self._evaluate = _build_evaluator(self.spec, load_supernet(self.spec.checkpoint),
                                              None)
        return self._evaluate

    # -- reading results ------------------------------------------------------------------------
    def results(self) -> list[Result]:
        """Every finished or failed evaluation (not the re-queued ones), in proposal order."""
        trials = [t for t in self._trials()
                  if t.state in (TrialState.COMPLETE, TrialState.FAIL)
                  and "proposal" in t.user_attrs and not t.user_attrs.get("requeued")]
        return [self._to_result(t) for t in sorted(trials, key=_order)]

    def strategy_log(self) -> list[dict[str, Any]]:
        """What the strategy reported with each batch (e.g. LINAS's predictor quality)."""
        log = []
        for trial in sorted(self._trials(), key=_order):
            proposal = _proposal(trial)
            if "strategy_info" in proposal and not trial.user_attrs.get("requeued"):
                log.append({"batch": proposal["batch"], **proposal["strategy_info"]})
        return log

    def finished(self) -> list[Result]:
        return [r for r in self.results() if r.ok]

    def pareto_front(self) -> list[Result]:
        """The non-dominated finished sub-networks, sorted by the first objective."""
        finished = self.finished()
        if not finished:
            return []
        front = [finished[i] for i in non_dominated([r.values for r in finished],
                                                    self.spec.directions)]
        return sorted(front, key=lambda r: r.values)

    def default_reference_point(self) -> list[float]:
        """The stated reference point, else the worst finished value of each objective."""
        if self.spec.reference_point is not None:
            return list(self.spec.reference_point)
        values = np.array([r.values for r in self.finished()], dtype=float)
        if len(values) == 0:
            raise StudyError("the study has no finished evaluation yet")
        return [float(values[:, i].min() if d == "maximize" else values[:, i].max())
                for i, d in enumerate(self.spec.directions)]

    def hypervolume(self, reference_point: Sequence[float] | None = None) -> float:
        """Hypervolume of the finished sub-networks against ``reference_point`` (in the
        objectives' units; default :meth:`default_reference_point`)."""
        reference = list(reference_point) if reference_point is not None \
            else self.default_reference_point()
        finished = self.finished()
        if not finished:
            return 0.0
        return hypervolume([r.values for r in finished], self.spec.directions, reference)

    def to_dataframe(self):
        """One row per evaluation: objectives, metrics and spreads, config, timestamps."""
        import pandas as pd

        rows = []
        for result in self.results():
            row: dict[str, Any] = {"number": result.number, "arch_id": result.arch_id,
                                   "state": "complete" if result.ok else "failed",
                                   "batch": result.batch}
            for name in self.spec.objective_names + [m.name for m in self.spec.metrics]:
                row[name] = result.metrics.get(name, np.nan)
                row[f"{name}_spread"] = result.spreads.get(name, np.nan)
            row.update({f"config.{k}": v for k, v in result.config.items()})
            row["datetime_start"] = result.extras["datetime_start"]
            row["datetime_complete"] = result.extras["datetime_complete"]
            row["error"] = result.error
            rows.append(row)
        return pd.DataFrame(rows)


def _proposal(trial: FrozenTrial) -> dict[str, Any]:
    """What the strategy proposed for this trial: config, id, batch and position in it."""
    return trial.user_attrs.get("proposal", {"config": {}, "arch_id": "", "batch": -1,
                                             "position": 0, "strategy_seconds": 0.0})


def _order(trial: FrozenTrial) -> tuple[int, int, int]:
    proposal = _proposal(trial)
    return proposal["batch"], proposal["position"], trial.number


def _build_evaluator(spec: StudySpec, supernet: Any,
                     measures: Sequence[Measure] | None) -> Evaluator:
    if measures is None:
        measures = [create_measure(m.name, m.settings) for m in spec.objectives + spec.metrics]
    data = None
    if spec.dataset is not None:
        from hwnas.data import load_dataset

        data = load_dataset(spec.dataset, seed=spec.seed, options=spec.dataset_options)
    return Evaluator(supernet, measures, data)

"""The study: stores every evaluation, runs the ask/evaluate/tell loop.

Built on Optuna's storage: one hwnas study is one Optuna study (named ``hwnas``), one
evaluation one trial whose values are the objectives and whose user attributes hold the
config and every figure by key. So optuna-dashboard opens a study, and several workers can
share one database.

The study never builds super-networks or data sets itself: it stores an evaluator spec
(:mod:`hwnas.evaluation`) and asks the one builder for an evaluator when it needs one.

Life of an evaluation: the strategy's proposals are written as WAITING trials first; a
worker claims one atomically (WAITING -> RUNNING), measures it, and writes the result before
taking the next. A process killed mid-way leaves a RUNNING trial whose worker is gone; the
next run fails it and queues the same config again, so nothing finished is lost or
measured twice, and the proposals repeat exactly. An evaluation that raises, or returns
something other than a Measurement per key, fails its trial and the search goes on, until
``max_consecutive_failures`` fail in a row.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from hwnas.errors import EvaluationError, StudyError
from hwnas.evaluation import build_evaluator, create_evaluator
from hwnas.evaluation.pipeline import DEFAULT_RECALIBRATION, Transform
from hwnas.measure import Measure, Metric, Objective
from hwnas.measure.prepare import Recalibrate
from hwnas.progress import progress_bar
from hwnas.results import Result
from hwnas.space import SearchSpace
from hwnas.storage import check_study_file, open_storage, remove_sqlite, sqlite_path
from hwnas.strategies import STRATEGIES, Strategy, create_strategy
from hwnas.study.analysis import Analysis
from hwnas.study.loop import FailurePolicy, check_measured
from hwnas.study.trials import TrialStore, proposal_of
from hwnas.study_spec import StudySpec

STUDY_NAME = "hwnas"
DEFAULT_METRICS = ("macs", "params", "model_size")


def _base_dir(location: str | Path) -> Path | None:
    path = sqlite_path(location)
    return path.resolve().parent if path is not None else None


def _creation_interrupted(location: str | Path) -> bool:
    """Whether ``location`` holds an hwnas study whose creation stopped before its spec was
    written (no spec, no trials): then the same command may simply create it again."""
    try:
        check_study_file(location)
        storage = open_storage(location)
        study_id = storage.get_study_id_from_name(STUDY_NAME)
    except (StudyError, KeyError):
        return False
    return ("hwnas" not in storage.get_study_user_attrs(study_id)
            and not storage.get_all_trials(study_id, deepcopy=False))


class Study(TrialStore, Analysis):
    """A stored search. Create with :meth:`create`, reopen with :meth:`load`."""

    def __init__(self, location: str, storage: optuna.storages.BaseStorage,
                 spec: StudySpec, evaluate: Any = None, strategy: Strategy | None = None,
                 given: dict[str, Any] | None = None) -> None:
        self.location, self.storage, self.spec = location, storage, spec
        self._study_id = storage.get_study_id_from_name(STUDY_NAME)
        self._evaluate = evaluate
        self._strategy = strategy
        self._given = given or {}
        self.seconds = {"evaluate": 0.0, "strategy": 0.0, "storage": 0.0}
        self._waiting: list[FrozenTrial] = []

    # -- creating and opening ---------------------------------------------------------------
    @classmethod
    def create(
        cls,
        location: str | Path,
        *,
        objectives: Sequence[str | Objective] = ("accuracy", "latency"),
        metrics: Sequence[str | Metric | Measure] = DEFAULT_METRICS,
        checkpoint: str | Path | None = None,
        supernet: Any = None,
        supernet_options: dict[str, Any] | None = None,
        benchmark: str | None = None,
        evaluator: Any = None,
        space: SearchSpace | None = None,
        data: Any = None,
        dataset: str | None = None,
        dataset_options: dict[str, Any] | None = None,
        split_seed: int | None = None,
        recalibrate: Recalibrate | None = DEFAULT_RECALIBRATION,
        transform: Transform | None = None,
        strategy: str | Strategy = "nsga2",
        strategy_options: dict[str, Any] | None = None,
        reference_point: Sequence[float] | None = None,
        seed: int = 0,
        overwrite: bool = False,
    ) -> Study:
        """A new study at ``location`` (a path for SQLite, an Optuna storage URL, or
        ``":memory:"``).

        Sub-networks come from exactly one source: ``checkpoint`` (a trained super-network
        file; its sha256 is stored and checked on resume), ``supernet`` (a registered name
        or ``"package.module:factory"``, built with ``supernet_options``; or an object),
        ``benchmark`` (a tabulated benchmark's name), or ``evaluator`` (a function
        ``config -> {key: Measurement}`` over ``space``, or its ``"package.module:function"``
        import path). The data is ``data`` (your arrays: ``(train, val[, test])`` pairs of
        ``(inputs, labels)``, a dict, a ``DataSplits`` or an ``.npz`` path) or ``dataset`` (a
        registered name; with a checkpoint, by default the data it was trained on, split with
        its training seed). ``objectives`` and ``metrics`` are keys: ``Objective``/``Metric``
        objects or text ``KEY[:KIND[:K=V,...]]``.
        """
        if not objectives:
            raise StudyError("a study needs at least one objective")
        base_dir = _base_dir(location)
        created = create_evaluator(
            base_dir=base_dir, objectives=objectives, metrics=metrics, space=space,
            checkpoint=checkpoint, supernet=supernet, supernet_options=supernet_options,
            benchmark=benchmark, evaluator=evaluator, data=data, dataset=dataset,
            dataset_options=dataset_options, split_seed=split_seed, recalibrate=recalibrate,
            transform=transform,
        )
        if isinstance(strategy, Strategy):
            strategy_name, strategy_object = type(strategy).__name__, strategy
        else:
            strategy_name = strategy
            strategy_object = create_strategy(strategy, strategy_options)
        objective_count = len(created.spec.objectives)
        if reference_point is not None and len(reference_point) != objective_count:
            raise StudyError(f"the reference point has {len(reference_point)} values for "
                             f"{objective_count} objectives")
        spec = StudySpec(
            space=created.space, evaluation=created.spec, strategy=strategy_name,
            strategy_options=dict(strategy_options or {}), seed=seed,
            reference_point=list(reference_point) if reference_point is not None else None,
        )
        path = sqlite_path(location)
        if path is not None and path.exists():
            if not overwrite and not _creation_interrupted(location):
                raise StudyError(
                    f"study {str(path)!r} already exists; resume it with `hwnas search "
                    f"--study {path}` (Study.load), or pass --overwrite to start again"
                )
            remove_sqlite(path)
        storage = open_storage(location)
        try:
            optuna.create_study(storage=storage, study_name=STUDY_NAME,
                                directions=spec.directions)
        except optuna.exceptions.DuplicatedStudyError:
            raise StudyError(f"{str(location)!r} already holds an hwnas study") from None
        study_id = storage.get_study_id_from_name(STUDY_NAME)
        storage.set_study_user_attr(study_id, "hwnas", spec.to_dict())
        given = {"supernet": supernet if not isinstance(supernet, str) else None,
                 "evaluator": evaluator if not isinstance(evaluator, str) else None,
                 "data": data}
        return cls(str(location), storage, spec, created.evaluator, strategy_object, given)

    @classmethod
    def load(cls, location: str | Path, *, supernet: Any = None, evaluator: Any = None,
             data: Any = None, strategy: Strategy | None = None) -> Study:
        """Reopen a stored study. ``supernet``/``evaluator``/``data`` are needed only to
        measure on when the study was created from objects in memory (its data is checked
        against the stored fingerprint); a checkpoint is checked against its sha256."""
        check_study_file(location)
        storage = open_storage(location)
        try:
            study_id = storage.get_study_id_from_name(STUDY_NAME)
        except KeyError:
            raise StudyError(f"{str(location)!r} holds no hwnas study") from None
        spec = StudySpec.from_dict(storage.get_study_user_attrs(study_id).get("hwnas"),
                                   str(location))
        given = {"supernet": supernet, "evaluator": evaluator, "data": data}
        return cls(str(location), storage, spec, None, strategy, given)

    @property
    def base_dir(self) -> Path | None:
        """The folder relative paths in the spec start from (the study file's)."""
        return _base_dir(self.location)

    def evaluator(self) -> Any:
        """The evaluator this study measures with, built from its spec on first use."""
        if self._evaluate is None:
            self._evaluate = build_evaluator(self.spec.evaluation, base_dir=self.base_dir,
                                             **self._given)
        return self._evaluate

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
        keys = self.spec.objective_keys
        for result in other.finished():
            if result.arch_id in known:
                continue
            missing = [k for k in keys if k not in result.metrics]
            if missing:
                raise StudyError(
                    f"cannot warm-start from {other.location!r}: it did not record {missing}; "
                    f"it measured {sorted(result.metrics)}"
                )
            values = [float(result.metrics[k]) for k in keys]
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
                 callback: Callable[[Result], None] | None = None,
                 catch: tuple[type[Exception], ...] = (Exception,),
                 max_consecutive_failures: int = 5, retry_failed: bool = False) -> None:
        """Measure sub-networks until the study holds ``n_evaluations`` finished ones.

        Running it again on the same study resumes: finished measurements are kept and
        queued proposals are measured before the strategy is asked again. An evaluation
        that raises one of ``catch``, or returns a NaN objective or something other than a
        Measurement per key, fails its trial and the search goes on; after
        ``max_consecutive_failures`` in a row it stops with an :class:`EvaluationError`.
        Other exceptions fail the trial and stop at once. ``retry_failed`` queues the
        failed evaluations again first.
        """
        if n_evaluations < 1:
            raise StudyError(f"n_evaluations must be >= 1, got {n_evaluations}")
        policy = FailurePolicy(tuple(catch), max_consecutive_failures)
        evaluate = self.evaluator()
        self._recover_stale_trials()
        if retry_failed:
            self.requeue_failed()
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
                result = self._run_trial(trial, evaluate, policy, first=complete == 0)
                if result.ok:
                    complete += 1
                    bar.update(completed=min(complete, n_evaluations))
                if callback is not None:
                    callback(result)
                policy.record(result, self.location)

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

    def _run_trial(self, trial: FrozenTrial, evaluate: Any, policy: FailurePolicy,
                   first: bool) -> Result:
        """Measure one claimed trial and write its result; whatever happens, the trial ends
        COMPLETE or FAIL (re-queued when interrupted), never RUNNING."""
        config = dict(proposal_of(trial)["config"])
        start = time.perf_counter()
        try:
            measured = evaluate(config)
            figures, problem, stop = check_measured(measured, self.spec.objective_keys, first)
        except KeyboardInterrupt:
            self._fail(trial, "interrupted", requeue=True)
            raise
        except BaseException as error:
            message = f"{type(error).__name__}: {error}"
            self._fail(trial, message)
            if isinstance(error, policy.catch):
                return self._to_result(trial, None, {}, message)
            raise EvaluationError(
                f"evaluating trial {trial.number} ({proposal_of(trial)['arch_id']}) failed: "
                f"{message}; every finished measurement is kept in {self.location}; fix the "
                "cause and run again with --retry-failed to measure it again"
            ) from error
        evaluate_seconds = time.perf_counter() - start
        self.seconds["evaluate"] += evaluate_seconds
        start = time.perf_counter()
        values = [] if problem else [float(figures[k].value) for k in self.spec.objective_keys]
        measurement = {"metrics": {k: m.value for k, m in figures.items()},
                       "spreads": {k: m.spread for k, m in figures.items()},
                       "evaluate_seconds": evaluate_seconds}
        try:
            self.storage.set_trial_user_attr(trial._trial_id, "measurement", measurement)
            if problem:
                self._fail(trial, problem)
            else:
                self.storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE,
                                                    values)
        except BaseException:
            self._fail(trial, "writing its result failed", requeue=True)
            raise
        self.seconds["storage"] += time.perf_counter() - start
        if stop:
            raise EvaluationError(f"trial {trial.number}: {problem}")
        return self._to_result(trial, values if not problem else None, measurement,
                               problem or None)

    # -- strategy -------------------------------------------------------------------------------
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

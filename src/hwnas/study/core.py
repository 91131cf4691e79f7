"""The study: stores every evaluation, runs the ask/evaluate/tell loop.

Built on Optuna's storage: one hwnas study is one Optuna study (named ``hwnas``), one
evaluation one trial whose values are the objectives and whose user attributes hold the
config and every figure by key. So optuna-dashboard opens a study, and several workers can
share one database.

The study never builds super-networks or data sets itself: it stores an evaluator spec
(:mod:`hwnas.evaluation`) and asks the one builder for an evaluator when it needs one.

Life of an evaluation (:mod:`hwnas.study.ask_tell`): the strategy's proposals are written as
WAITING trials first; a worker claims one atomically (WAITING -> RUNNING, with its owner and
first heartbeat), measures it, and writes the result before taking the next. A process
killed mid-way leaves a RUNNING trial whose heartbeat stops; a running worker, or the next
run, fails it and queues the same config again, so nothing finished is lost or measured
twice. An evaluation that raises, or returns something other than a Measurement per key,
fails its trial and the search goes on, until ``max_consecutive_failures`` fail in a row.

Several processes (or machines) may search one study at once, each with ``optimize`` or its
own ask/tell loop; ``optimize(workers=N)`` runs N evaluations at once on Ray workers
(:mod:`hwnas.distributed`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState, create_trial

from hwnas.constraints import Constraint
from hwnas.errors import StudyError
from hwnas.evaluation import build_evaluator, create_evaluator
from hwnas.evaluation.pipeline import DEFAULT_RECALIBRATION, Transform
from hwnas.measure import Measure, Metric, Objective
from hwnas.measure.prepare import Recalibrate
from hwnas.results import Result
from hwnas.screening import study_constraints
from hwnas.space import SearchSpace
from hwnas.storage import (
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    check_study_file,
    open_storage,
    publish_sqlite,
    remove_sqlite,
    sqlite_path,
)
from hwnas.strategies import Strategy, create_strategy
from hwnas.study.analysis import Analysis
from hwnas.study.ask_tell import AskTell
from hwnas.study.executors import Executor, InProcess
from hwnas.study.loop import FailurePolicy
from hwnas.study.trials import STUDY_NAME, open_stored
from hwnas.study_spec import StudySpec

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


def _close_sqlite(storage: optuna.storages.BaseStorage) -> None:
    """Fold the write-ahead log into the database file and close every connection, so the
    file alone holds the study (before it is published under its name)."""
    if isinstance(storage, optuna.storages.RDBStorage):
        import sqlalchemy

        with storage.engine.connect() as connection:
            connection.execute(sqlalchemy.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        storage.scoped_session.remove()
        storage.engine.dispose()


class Study(AskTell, Analysis):
    """A stored search. Create with :meth:`create`, reopen with :meth:`load`; measure with
    :meth:`optimize` or your own loop over :meth:`ask` and :meth:`tell`."""

    def __init__(self, location: str, storage: optuna.storages.BaseStorage,
                 spec: StudySpec, evaluate: Any = None, strategy: Strategy | None = None,
                 given: dict[str, Any] | None = None) -> None:
        self.location, self.storage, self.spec = location, storage, spec
        self._study_id = storage.get_study_id_from_name(STUDY_NAME)
        self._evaluate = evaluate
        self._strategy = strategy
        self._given = given or {}
        self.seconds = {"evaluate": 0.0, "strategy": 0.0, "storage": 0.0, "driver": 0.0}
        self._waiting = []
        self._told: set[int] = set()

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
        threads: int = 1,
        strategy: str | Strategy = "nsga2",
        strategy_options: dict[str, Any] | None = None,
        reference_point: Sequence[float] | None = None,
        constraints: Sequence[str | Constraint] = (),
        count_infeasible: bool = False,
        seed: int = 0,
        overwrite: bool = False,
        exist_ok: bool = False,
        heartbeat_interval: int | None = HEARTBEAT_INTERVAL,
        grace_period: int | None = GRACE_PERIOD,
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
        objects or text ``KEY[:KIND[:K=V,...]]``. ``constraints`` bound any of those keys
        (``"latency@b1<=2.0"``, ``"params<=1e6"``; :mod:`hwnas.screening`: cheap figures are
        measured first, a proposal they rule out is stored unmeasured and counts toward
        ``n_evaluations`` only with ``count_infeasible``). ``threads`` is the thread budget
        of every evaluation stage (recalibration, accuracy, transform, latency unless its
        own ``threads`` setting says otherwise), stored with the study.

        Creation is atomic: an SQLite study is built in a temporary file and appears whole.
        ``exist_ok`` joins a study that exists (or that another process creates at the same
        moment) if it was created with the same settings, and raises otherwise. Running
        trials beat every ``heartbeat_interval`` seconds and count as stale after
        ``grace_period`` seconds of silence (see :func:`hwnas.storage.open_storage`).
        """
        if not objectives:
            raise StudyError("a study needs at least one objective")
        base_dir = _base_dir(location)
        created = create_evaluator(
            base_dir=base_dir, objectives=objectives, metrics=metrics, space=space,
            checkpoint=checkpoint, supernet=supernet, supernet_options=supernet_options,
            benchmark=benchmark, evaluator=evaluator, data=data, dataset=dataset,
            dataset_options=dataset_options, split_seed=split_seed, recalibrate=recalibrate,
            transform=transform, threads=threads,
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
            constraints=study_constraints(constraints,
                                          [m.key for m in created.spec.measures]),
            count_infeasible=count_infeasible,
        )
        given = {"supernet": supernet if not isinstance(supernet, str) else None,
                 "evaluator": evaluator if not isinstance(evaluator, str) else None,
                 "data": data}
        beats = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period}

        def joined() -> Study:
            study = cls.load(location, supernet=supernet if not isinstance(supernet, str)
                             else None, evaluator=given["evaluator"], data=data,
                             strategy=strategy_object, **beats)
            if study.spec.to_dict() != spec.to_dict():
                raise StudyError(
                    f"study {str(location)!r} already exists with other settings; resume it "
                    "with the options it was created with, or pass --overwrite"
                )
            study._evaluate = created.evaluator
            return study

        path = sqlite_path(location)
        if path is not None and path.exists():
            if exist_ok and not overwrite and not _creation_interrupted(location):
                return joined()
            if not overwrite and not _creation_interrupted(location):
                raise StudyError(
                    f"study {str(path)!r} already exists; resume it with `hwnas search "
                    f"--study {path}` (Study.load), or pass --overwrite to start again"
                )
            remove_sqlite(path)
        build_at = location
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            build_at = path.with_name(f".{path.name}.{os.getpid()}.creating")
            remove_sqlite(Path(build_at))
        try:
            storage = open_storage(build_at, **beats)
            try:
                optuna_study = optuna.create_study(storage=storage, study_name=STUDY_NAME,
                                                   directions=spec.directions)
            except optuna.exceptions.DuplicatedStudyError:
                if exist_ok:
                    return joined()
                raise StudyError(f"{str(location)!r} already holds an hwnas study") from None
            study_id = storage.get_study_id_from_name(STUDY_NAME)
            storage.set_study_user_attr(study_id, "hwnas", spec.to_dict())
            with warnings.catch_warnings():  # named objectives in optuna-dashboard
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna_study.set_metric_names(list(spec.objective_keys))
            if path is not None:
                _close_sqlite(storage)
                if not publish_sqlite(Path(build_at), path):
                    if exist_ok:
                        return joined()
                    raise StudyError(f"study {str(path)!r} was created by another process at "
                                     "the same moment; resume it with `hwnas search --study "
                                     f"{path}` (Study.load)")
                storage = open_storage(location, **beats)
        finally:
            if path is not None:
                remove_sqlite(Path(build_at))
        return cls(str(location), storage, spec, created.evaluator, strategy_object, given)

    @classmethod
    def load(cls, location: str | Path, *, supernet: Any = None, evaluator: Any = None,
             data: Any = None, strategy: Strategy | None = None,
             heartbeat_interval: int | None = HEARTBEAT_INTERVAL,
             grace_period: int | None = GRACE_PERIOD) -> Study:
        """Reopen a stored study. ``supernet``/``evaluator``/``data`` are needed only to
        measure on when the study was created from objects in memory (its data is checked
        against the stored fingerprint); a checkpoint is checked against its sha256."""
        storage, spec = open_stored(location, heartbeat_interval=heartbeat_interval,
                                    grace_period=grace_period)
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
            params, distributions = self._genes().of(result.config)
            self.storage.create_new_trial(self._study_id, template_trial=create_trial(
                state=TrialState.COMPLETE, values=values, params=params,
                distributions=distributions,
                user_attrs={"proposal": proposal, "measurement": measurement}))
            known.add(result.arch_id)
            added += 1
        return added

    # -- the search loop ------------------------------------------------------------------------
    def optimize(self, n_evaluations: int, *, progress: bool = True,
                 callback: Callable[[Result], None] | None = None,
                 catch: tuple[type[Exception], ...] = (Exception,),
                 max_consecutive_failures: int = 5, retry_failed: bool = False,
                 workers: int | None = None, ray_address: str | None = None,
                 executor: Executor | None = None) -> None:
        """Measure sub-networks until the study holds ``n_evaluations`` finished ones.

        Running it again on the same study resumes: finished measurements are kept and
        queued proposals are measured before the strategy is asked again. Several processes
        may run it on one study at once: together they stop at ``n_evaluations``. An
        evaluation that raises one of ``catch``, or returns a NaN objective or something
        other than a Measurement per key, fails its trial and the search goes on; after
        ``max_consecutive_failures`` in a row it stops with an :class:`EvaluationError`.
        Other exceptions fail the trial and stop at once. ``retry_failed`` queues the
        failed evaluations again first.

        ``workers=N`` measures N sub-networks at once on Ray workers (a local Ray runtime,
        or the cluster at ``ray_address``; needs the ``ray`` extra); this process keeps the
        strategy and the storage. ``executor`` runs the evaluations elsewhere
        (:class:`hwnas.study.executors.Executor`); default: in this process.
        """
        if n_evaluations < 1:
            raise StudyError(f"n_evaluations must be >= 1, got {n_evaluations}")
        from hwnas.study.optimize import run_loop

        policy = FailurePolicy(tuple(catch), max_consecutive_failures)
        if executor is None:
            if workers is not None or ray_address is not None:
                from hwnas.distributed import RayExecutor

                executor = RayExecutor(workers=workers, address=ray_address)
            else:
                executor = InProcess()
        self._recover_stale_trials()
        if retry_failed:
            self.requeue_failed()
        self._bound = False
        run_loop(self, n_evaluations, executor, policy, progress=progress, callback=callback)
        from hwnas.measure.noise import after_search

        after_search(self)  # record the latency targets; warn if too noisy to rank

"""Trials in Optuna storage: queued proposals, atomic claims, failures, stale workers.

Every trial carries the user attribute ``proposal`` (config, canonical id, batch and
position in it, the strategy's seconds) and its active genes as Optuna parameters
(:mod:`hwnas.study.params`); a finished one also ``measurement`` (every figure by key,
with its spread), a failed one ``error``. A re-queued trial (its worker stopped, or
``retry_failed``) is marked ``requeued`` and a fresh WAITING copy takes its place.

Several processes may share a study. A worker claims a queued trial, records itself as
its owner and beats its first heartbeat in one transaction (:func:`hwnas.storage.claim_trial`),
and keeps beating while it measures (:class:`hwnas.study.heartbeat.Heartbeat`). A trial
whose worker went silent for the grace period is failed by Optuna's
:func:`~optuna.storages.fail_stale_trials` and queued again by its retry callback (the copy
names the stale trial in the system attribute ``retry_history``, which hides it from the
results); a trial whose worker process is gone on this host is re-queued at once.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from hwnas.results import Result
from hwnas.space import Config
from hwnas.storage import (
    WORKER_ATTR,
    add_trials,
    check_study_file,
    claim_trial,
    count_trials,
    get_trials,
    open_storage,
    trial_states,
    waiting_trials,
)
from hwnas.study.params import GeneParams
from hwnas.study_spec import StudySpec

STUDY_NAME = "hwnas"


def open_stored(location: Any, *, heartbeat_interval: int | None = None,
                grace_period: int | None = None) -> tuple[Any, StudySpec]:
    """The storage of the hwnas study at ``location`` (a path or a storage URL) and its
    spec; one clear error if it holds none."""
    from hwnas.errors import StudyError

    check_study_file(location)
    storage = open_storage(location, heartbeat_interval=heartbeat_interval,
                           grace_period=grace_period)
    try:
        study_id = storage.get_study_id_from_name(STUDY_NAME)
    except KeyError:
        raise StudyError(f"{str(location)!r} holds no hwnas study") from None
    return storage, StudySpec.from_dict(storage.get_study_user_attrs(study_id).get("hwnas"),
                                        str(location))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_gone(worker: str | None) -> bool:
    """Whether ``worker`` (``host:pid``) is a process of this host that no longer runs. Only
    a fast path: a live or reused pid, or another host's worker, is judged by heartbeat."""
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False
    return False


def proposal_of(trial: FrozenTrial) -> dict[str, Any]:
    """What the strategy proposed for this trial: config, id, batch and position in it."""
    return trial.user_attrs.get("proposal", {"config": {}, "arch_id": "", "batch": -1,
                                             "position": 0, "strategy_seconds": 0.0})


def order_of(trial: FrozenTrial) -> tuple[int, int, int]:
    proposal = proposal_of(trial)
    return proposal["batch"], proposal["position"], trial.number


class TrialStore:
    """The storage half of a study (mixed into :class:`hwnas.study.Study`)."""

    storage: optuna.storages.BaseStorage
    spec: StudySpec
    _study_id: int
    _waiting: list[FrozenTrial]
    _gene_params: GeneParams | None = None
    _optuna_study: optuna.Study | None = None
    _stale_checked: float = 0.0
    _trial_cache: dict[int, FrozenTrial] | None = None

    def _proposal(self, config: Config, batch: int, position: int,
                  strategy_seconds: float = 0.0, arch_id: str | None = None,
                  **extra: Any) -> dict[str, Any]:
        """The ``proposal`` user attribute every trial carries (``arch_id``: the config's,
        when the caller has it already)."""
        return {"config": config, "arch_id": arch_id or self.spec.space.arch_id(config),
                "batch": batch, "position": position, "strategy_seconds": strategy_seconds,
                **extra}

    def _enqueue(self, config: Config, batch: int, position: int, strategy_seconds: float,
                 strategy_info: dict[str, Any] | None = None,
                 retry_of: int | None = None) -> None:
        self._enqueue_many([self._waiting_template(config, batch, position, strategy_seconds,
                                                   strategy_info, retry_of)])

    def _waiting_template(self, config: Config, batch: int, position: int,
                          strategy_seconds: float, strategy_info: dict[str, Any] | None = None,
                          retry_of: int | None = None, arch_id: str | None = None
                          ) -> FrozenTrial:
        extra: dict[str, Any] = {"strategy_info": strategy_info} if strategy_info else {}
        if retry_of is not None:
            extra["retry_of"] = retry_of
        proposal = self._proposal(config, batch, position, strategy_seconds, arch_id, **extra)
        params, distributions = self._genes().of(config)
        return create_trial(state=TrialState.WAITING, user_attrs={"proposal": proposal},
                            params=params, distributions=distributions)

    def _enqueue_many(self, templates: list[FrozenTrial]) -> None:
        """Queue WAITING trials in one transaction (:func:`hwnas.storage.add_trials`); the
        next claim reads the queue again, so a config queued again is retried at its place."""
        add_trials(self.storage, self._study_id, templates)
        self._waiting = []

    def _genes(self) -> GeneParams:
        if self._gene_params is None:
            self._gene_params = GeneParams(self.spec.space)
        return self._gene_params

    def _claim_waiting_trial(self, limit: int | None = None) -> FrozenTrial | None:
        """Take the next queued proposal, while the study holds fewer than ``limit``
        finished plus running trials. The claim is one transaction with the owner and the
        first heartbeat, so two workers never measure the same trial and no claimed trial
        is left without an owner; one another worker took first is skipped."""
        for _ in range(2):
            if not self._waiting:
                self._waiting = sorted(waiting_trials(self.storage, self._study_id),
                                       key=order_of)
            while self._waiting:
                trial = self._waiting[0]
                if claim_trial(self.storage, self._study_id, trial._trial_id, worker_id(),
                               limit, self._counted_states()):
                    self._waiting.pop(0)
                    return trial
                if limit is not None and self._count(*self._counted_states(),
                                                     TrialState.RUNNING) >= limit:
                    return None
                self._waiting.pop(0)
        return None

    def _heartbeat_interval(self) -> int | None:
        """Seconds between heartbeats, or None when the storage keeps none (in memory)."""
        if isinstance(self.storage, optuna.storages.RDBStorage):
            return self.storage.get_heartbeat_interval()
        return None

    def _counted_states(self) -> tuple[TrialState, ...]:
        """The states that count toward ``n_evaluations``: COMPLETE, and PRUNED (screened
        by a cheap constraint, :mod:`hwnas.screening`) when the study counts those."""
        if getattr(self.spec, "count_infeasible", False):
            return (TrialState.COMPLETE, TrialState.PRUNED)
        return (TrialState.COMPLETE,)

    def _count(self, *states: TrialState) -> int:
        return count_trials(self.storage, self._study_id, states)

    def _fail(self, trial: FrozenTrial, message: str, requeue: bool = False) -> bool:
        """Fail ``trial`` (queueing its config again if ``requeue``); False, and nothing
        changed, when it had already finished (another worker failed it as stale)."""
        try:
            self.storage.set_trial_user_attr(trial._trial_id, "error", message)
            self.storage.set_trial_user_attr(trial._trial_id, "requeued", requeue)
            if not self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                return False
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
        if requeue:
            self._enqueue_again(trial)
        return True

    def _enqueue_again(self, trial: FrozenTrial, retry: bool = False) -> None:
        proposal = proposal_of(trial)
        self._enqueue(dict(proposal["config"]), proposal["batch"], proposal["position"],
                      proposal["strategy_seconds"], proposal.get("strategy_info"),
                      trial.number if retry else None)

    def _recover_stale_trials(self, every: float = 0.0) -> None:
        """Queue again the trials whose worker is gone (a dead process of this host) or went
        silent for the grace period (Optuna's heartbeat); at most once per ``every``
        seconds, so running workers can call it on each step."""
        now = time.monotonic()
        if every and now - self._stale_checked < every:
            return
        self._stale_checked = now
        running = get_trials(self.storage, self._study_id, states=(TrialState.RUNNING,))
        for trial in running:
            if worker_gone(trial.system_attrs.get(WORKER_ATTR)):
                self._fail(trial, "its worker stopped before finishing", requeue=True)
        if self._heartbeat_interval() is not None:
            if self._optuna_study is None:
                self._optuna_study = optuna.load_study(study_name=STUDY_NAME,
                                                       storage=self.storage)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self._optuna_study)
        self._waiting = []

    def requeue_failed(self) -> int:
        """Queue every failed evaluation again (at its place; the copy names the failed trial
        in ``retry_of``, which hides it from the results); returns how many."""
        failed = [t for t in self._live_trials() if t.state == TrialState.FAIL]
        for trial in failed:
            self._enqueue_again(trial, retry=True)
        return len(failed)

    def _live_trials(self) -> list[FrozenTrial]:
        """Trials that stand for their proposal: not re-queued, not retried by another."""
        trials = self._trials()
        retried = {proposal_of(t).get("retry_of") for t in trials}
        for trial in trials:  # stale trials the heartbeat's retry callback queued again
            retried.update(trial.system_attrs.get("retry_history", ()))
        return [t for t in trials if "proposal" in t.user_attrs
                and not t.user_attrs.get("requeued") and t.number not in retried]

    def _known_ids(self, live: list[FrozenTrial] | None = None) -> set[str]:
        return {proposal_of(t)["arch_id"]
                for t in (self._live_trials() if live is None else live)}

    def _next_batch(self) -> int:
        batches = [proposal_of(t).get("batch", -1) for t in self._trials()]
        return max(batches, default=-1) + 1

    def _trials(self) -> list[FrozenTrial]:
        """Every trial of the study. A finished trial never changes (Optuna refuses to
        update one), so on database storage it is read once and kept: each call reads the
        trials' states, then only the new and the unfinished trials."""
        if not isinstance(self.storage, optuna.storages.RDBStorage):
            return self.storage.get_all_trials(self._study_id, deepcopy=False)
        if self._trial_cache is None:
            self._trial_cache = {}
        cache = self._trial_cache
        rows = trial_states(self.storage, self._study_id)
        stale = [trial_id for trial_id, state in rows
                 if trial_id not in cache or not state.is_finished()
                 or cache[trial_id].state != state]
        if stale:
            every = len(stale) == len(rows)
            for trial in get_trials(self.storage, self._study_id, None if every else stale):
                cache[trial._trial_id] = trial
        return [cache[trial_id] for trial_id, _ in rows if trial_id in cache]

    @staticmethod
    def _to_result(trial: FrozenTrial, values: Sequence[float] | None = None,
                   measurement: dict | None = None, error: str | None = None) -> Result:
        """A stored trial as a result; the keyword arguments override what the (possibly
        stale) ``trial`` snapshot holds, so a just-finished trial needs no re-read."""
        if measurement is None:
            measurement = trial.user_attrs.get("measurement", {})
            values = trial.values if trial.state == TrialState.COMPLETE else None
            error = trial.user_attrs.get("error")
        proposal = proposal_of(trial)
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

    # -- reading results ------------------------------------------------------------------------
    def results(self, live: list[FrozenTrial] | None = None) -> list[Result]:
        """Every finished or failed evaluation (not the re-queued ones), in proposal order;
        PRUNED: stopped by a cheap constraint (``Result.screened``, :mod:`hwnas.screening`).
        ``live``: the :meth:`_live_trials` already read (saves a read)."""
        trials = [t for t in (self._live_trials() if live is None else live)
                  if t.state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)]
        return [self._to_result(t) for t in sorted(trials, key=order_of)]

    def result(self, number: int) -> Result:
        """The evaluation of trial ``number`` (finished or failed)."""
        from hwnas.errors import StudyError

        for result in self.results():
            if result.number == number:
                return result
        numbers = [r.number for r in self.results()]
        span = f"{min(numbers)}..{max(numbers)}" if numbers else "none yet"
        raise StudyError(f"the study has no evaluated trial {number} (trials: {span})")

    def finished(self) -> list[Result]:
        return [r for r in self.results() if r.ok]

    def strategy_log(self) -> list[dict[str, Any]]:
        """What the strategy reported with each batch (e.g. LINAS's predictor quality)."""
        log = []
        for trial in sorted(self._live_trials(), key=order_of):
            proposal = proposal_of(trial)
            if "strategy_info" in proposal:
                log.append({"batch": proposal["batch"], **proposal["strategy_info"]})
        return log

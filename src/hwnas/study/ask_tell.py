"""Public ask and tell: the two steps every search loop (in-process, many processes, Ray)
is built from, as Optuna's ``Study.ask``/``Study.tell``.

``ask`` claims the next queued proposal for this worker; when the queue is empty it
proposes the next batch first. Proposing is guarded by a compare-and-set on the study
attribute ``hwnas:proposing`` (``{"batch", "worker", "since"}``), so among several workers
exactly one proposes each batch, from the history in storage, and the others claim from it.
A proposer that dies mid-way is taken over after the grace period (at once when its process
is gone on this host). Claims respect the study's total: a worker never starts a trial
when the study already holds that many finished plus running ones.

``tell`` writes an evaluation's figures (or its error) to storage before it returns.

>>> from hwnas.measure import Measurement
>>> from hwnas.space import Choice, SearchSpace
>>> from hwnas.study import Study
>>> space = SearchSpace([Choice("x", (1, 2, 3))])
>>> study = Study.create(":memory:", space=space, objectives=["latency"], metrics=[],
...                      strategy="random", evaluator=lambda c: {})
>>> proposal = study.ask()
>>> result = study.tell(proposal, {"latency": Measurement(float(proposal.config["x"]))})
>>> result.ok, len(study.finished())
(True, 1)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hwnas.results import Result
from hwnas.screening import mark_feasibility, screened_violation, tell_screened
from hwnas.space import Config
from hwnas.storage import (
    GRACE_PERIOD,
    claim_trial,
    compare_and_set,
    complete_trial,
    get_trials,
    read_attr,
)
from hwnas.strategies import STRATEGIES, Strategy, create_strategy
from hwnas.strategies.base import bind_strategy
from hwnas.study.loop import check_measured
from hwnas.study.trials import TrialStore, proposal_of, worker_gone, worker_id

PROPOSING = "hwnas:proposing"

#: why ``_ask`` gave no proposal
FULL = "full"    # the study holds its total in finished plus running trials
BUSY = "busy"    # another worker is proposing, or trials are in flight elsewhere: ask again
SPENT = "spent"  # nothing queued or running, and the strategy proposes nothing new


@dataclass(frozen=True)
class Proposal:
    """A claimed trial: the sub-network to measure and the stored trial it belongs to."""

    number: int
    config: Config
    arch_id: str
    trial: FrozenTrial

    @classmethod
    def of(cls, trial: FrozenTrial) -> Proposal:
        proposal = proposal_of(trial)
        return cls(trial.number, dict(proposal["config"]), proposal["arch_id"], trial)


class AskTell(TrialStore):
    """Ask/tell over the stored study (mixed into :class:`hwnas.study.Study`)."""

    location: str
    seconds: dict[str, float]
    _strategy: Strategy | None
    _bound: bool = False
    _told: set[int]
    _any_complete: bool | None = None
    _nothing_new_at: int | None = None

    # -- public -----------------------------------------------------------------------------
    def ask(self, n_evaluations: int | None = None) -> Proposal | None:
        """Claim the next sub-network to measure (proposing a batch if none is queued), or
        None when the study holds ``n_evaluations`` finished plus running trials or the
        strategy has nothing new. The trial is RUNNING under this worker until :meth:`tell`;
        another worker's proposing is waited for."""
        while True:
            got = self._ask(n_evaluations)
            if isinstance(got, Proposal):
                return got
            if got == BUSY and self._proposer() not in (None, worker_id()):
                time.sleep(0.05)
                continue
            return None

    def tell(self, proposal: Proposal, measured: Any = None, *,
             error: BaseException | str | None = None, seconds: float = 0.0) -> Result:
        """Write what the evaluation of ``proposal`` gave: ``measured`` (``{key:
        Measurement}``; a trial lacking an objective or with a non-finite one fails) or
        ``error`` (it failed). Returns the stored result; raises
        :class:`~hwnas.errors.EvaluationError` after writing when the first result of the
        study lacks an objective (the evaluator cannot produce it). A trial another worker
        failed as stale meanwhile gets its result through its queued copy (claimed here, so
        it is not measured again); if that copy is taken too, the result is dropped and says
        so."""
        from hwnas.errors import EvaluationError

        trial = proposal.trial
        start = time.perf_counter()
        if error is not None:
            message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            self._fail(trial, message)
            self.seconds["storage"] += time.perf_counter() - start
            return self._to_result(trial, None, {}, message)
        self.seconds["evaluate"] += seconds
        if screened_violation(measured, self.spec.objective_keys, self.spec.constraints):
            return tell_screened(self, trial, measured, seconds)  # a cheap figure ruled it out
        first = not self._has_complete()
        figures, problem, stop = check_measured(measured, self.spec.objective_keys, first)
        values = [] if problem else [float(figures[k].value) for k in self.spec.objective_keys]
        measurement = {"metrics": {k: m.value for k, m in figures.items()},
                       "spreads": {k: m.spread for k, m in figures.items()},
                       "evaluate_seconds": seconds}
        noisy = {k: m.quality for k, m in figures.items() if m.quality != "ok"}
        if noisy:
            measurement["quality"] = noisy
        try:
            if problem or self.spec.constraints:
                self.storage.set_trial_user_attr(trial._trial_id, "measurement", measurement)
            if problem:
                self._fail(trial, problem)
            else:
                mark_feasibility(self, trial, measurement["metrics"])
                if not complete_trial(self.storage, trial._trial_id, values,
                                      {"measurement": measurement},
                                      replace=bool(self.spec.constraints)):
                    raise optuna.exceptions.UpdateFinishedTrialError(
                        f"trial {trial.number} finished meanwhile")
                self._any_complete = True
        except optuna.exceptions.UpdateFinishedTrialError:
            copy = self._claim_retry_copy(trial)  # failed as stale meanwhile: its queued copy
            if copy is not None:
                self.seconds["evaluate"] -= seconds
                return self.tell(Proposal.of(copy), measured, seconds=seconds)
            problem = "another worker finished this trial first (it was stale); result dropped"
            values = []
        except BaseException:
            self._fail(trial, "writing its result failed", requeue=True)
            raise
        self.seconds["storage"] += time.perf_counter() - start
        if stop:
            raise EvaluationError(f"trial {trial.number}: {problem}")
        return self._to_result(trial, values if not problem else None, measurement,
                               problem or None)

    # -- the steps ---------------------------------------------------------------------------
    def _ask(self, limit: int | None) -> Proposal | str:
        """A claimed proposal, or why there is none (:data:`FULL`, :data:`BUSY`,
        :data:`SPENT`)."""
        self._recover_stale_trials(every=self._heartbeat_interval() or 0.0)
        for _ in range(3):
            trial = self._claim_waiting_trial(limit)
            if trial is not None:
                return Proposal.of(trial)
            if limit is not None and self._count(*self._counted_states(),
                                                 TrialState.RUNNING) >= limit:
                return FULL
            evaluated = self._count(TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
            if self._nothing_new_at == evaluated and self._count(TrialState.RUNNING):
                return BUSY  # the strategy had nothing new; ask it again once more is known
            proposed = self._propose_batch()
            if proposed is None:
                return BUSY
            if proposed == 0:
                self._nothing_new_at = evaluated
                if self._count(TrialState.RUNNING, TrialState.WAITING):
                    return BUSY
                return SPENT
        return BUSY

    def _claim_retry_copy(self, trial: FrozenTrial) -> FrozenTrial | None:
        """The WAITING copy Optuna's retry callback queued for stale ``trial``, claimed."""
        waiting = get_trials(self.storage, self._study_id, states=(TrialState.WAITING,))
        for copy in waiting:
            if trial.number in copy.system_attrs.get("retry_history", ()) and claim_trial(
                    self.storage, self._study_id, copy._trial_id, worker_id()):
                return copy
        return None

    def _proposer(self) -> str | None:
        state = read_attr(self.storage, self._study_id, PROPOSING)
        return state.get("worker") if state else None

    def _propose_batch(self) -> int | None:
        """Propose the next batch if no other worker is proposing (None if one is); returns
        how many new trials were queued (0: the strategy has nothing new)."""
        state = read_attr(self.storage, self._study_id, PROPOSING)
        if state is None:
            compare_and_set(self.storage, self._study_id, PROPOSING, None,
                            {"batch": self._next_batch(), "worker": None, "since": 0.0})
            state = read_attr(self.storage, self._study_id, PROPOSING)
        if state["worker"] is not None and not self._proposer_gone(state):
            return None
        mine = {"batch": state["batch"], "worker": worker_id(), "since": time.time()}
        if not compare_and_set(self.storage, self._study_id, PROPOSING, state, mine):
            return None
        proposed = 0
        try:
            queued = self._count(TrialState.WAITING)
            if queued:  # another worker queued a batch between our look and our claim
                return queued
            proposed = self._propose(self._ensure_strategy(), state["batch"])
        finally:
            done = {"batch": state["batch"] + (1 if proposed else 0), "worker": None,
                    "since": time.time()}
            compare_and_set(self.storage, self._study_id, PROPOSING, mine, done)
        return proposed

    def _proposer_gone(self, state: dict[str, Any]) -> bool:
        grace = getattr(self.storage, "grace_period", None) or GRACE_PERIOD
        return worker_gone(state["worker"]) or time.time() - state["since"] > 2 * grace

    def _propose(self, strategy: Strategy, batch: int) -> int:
        """Queue one whole batch (a budget that ends mid-batch leaves the rest queued for the
        next run, so the proposals never depend on the budget). Proposals already in the
        study, pending ones included, are left out."""
        live = self._live_trials()
        fresh_results = self.results([t for t in live if t.number not in self._told])
        self._told.update(r.number for r in fresh_results)
        strategy.tell(fresh_results)
        known_ids = self._known_ids(live)
        start = time.perf_counter()
        configs = strategy.ask(strategy.batch_size)
        strategy_seconds = time.perf_counter() - start
        self.seconds["strategy"] += strategy_seconds
        fresh = []
        for config in configs:
            arch_id = self.spec.space.arch_id(config)
            if arch_id not in known_ids:
                known_ids.add(arch_id)
                fresh.append((self.spec.space.canonical(config), arch_id))
        info = strategy.ask_info or None
        self._enqueue_many([
            self._waiting_template(config, batch, position, strategy_seconds / len(fresh),
                                   info if position == 0 else None, arch_id=arch_id)
            for position, (config, arch_id) in enumerate(fresh)])
        return len(fresh)

    def _has_complete(self) -> bool:
        if self._any_complete is None:
            self._any_complete = self._count(TrialState.COMPLETE) > 0
        return self._any_complete

    # -- strategy -------------------------------------------------------------------------------
    def _ensure_strategy(self) -> Strategy:
        """The study's strategy, bound once per search and told the stored results."""
        if not self._bound:
            strategy = self._bound_strategy()
            self._told = set()
            self._bound = True
            return strategy
        assert self._strategy is not None
        return self._strategy

    def _bound_strategy(self) -> Strategy:
        if self._strategy is None:
            if self.spec.strategy not in STRATEGIES:
                from hwnas.errors import StudyError

                raise StudyError(
                    f"this study was created with a strategy object ({self.spec.strategy}); "
                    "pass strategy= to Study.load to search on"
                )
            self._strategy = create_strategy(self.spec.strategy, self.spec.strategy_options)
        return bind_strategy(self._strategy, self.spec.space, self.spec.directions,
                             self.spec.seed, self.spec.constraints)

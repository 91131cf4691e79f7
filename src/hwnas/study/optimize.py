"""The search loop over ask and tell, as Optuna's ``study/_optimize.py``: keep the executor
full (one in flight in-process, N on Ray workers, refilled as each finishes), write each
result as it arrives, beat for the trials in flight, and stop when the study holds its total.

Every worker of a shared study runs this loop and counts the study's finished trials in
storage, not its own; a worker with nothing to claim while others still measure waits for
them (one may fail and need measuring again), and meanwhile fails the stale ones.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from hwnas.errors import EvaluationError
from hwnas.progress import progress_bar
from hwnas.results import Result
from hwnas.screening import constrained_evaluator
from hwnas.study.ask_tell import FULL, SPENT, Proposal
from hwnas.study.executors import Executor, Outcome
from hwnas.study.heartbeat import Heartbeat
from hwnas.study.loop import FailurePolicy

if TYPE_CHECKING:
    from hwnas.study.core import Study

#: seconds between looks at the storage while waiting for other workers
POLL_SECONDS = 0.2


def run_loop(study: Study, n_evaluations: int, executor: Executor, policy: FailurePolicy, *,
             progress: bool = True, callback: Callable[[Result], None] | None = None) -> None:
    """Measure until ``study`` holds ``n_evaluations`` finished sub-networks (see
    :meth:`hwnas.study.Study.optimize`)."""
    in_flight: dict[int, Proposal] = {}
    heartbeat = Heartbeat(study.storage, study._heartbeat_interval())
    wait_timeout = float(study._heartbeat_interval() or 1.0)
    executor.start(constrained_evaluator(study.evaluator(), study.spec.constraints))
    with heartbeat, executor, progress_bar("searching", total=n_evaluations,
                                           enabled=progress) as bar:
        try:
            while True:
                start = time.perf_counter()
                complete = study._count(*study._counted_states())
                bar.update(completed=min(complete, n_evaluations))
                why = FULL
                while len(in_flight) < executor.capacity:
                    got = study._ask(n_evaluations)
                    if not isinstance(got, Proposal):
                        why = got
                        break
                    in_flight[got.trial._trial_id] = got
                    heartbeat.add(got.trial._trial_id)
                    executor.submit(got)
                study.seconds["driver"] += time.perf_counter() - start
                if in_flight:
                    for outcome in executor.wait(wait_timeout):
                        start = time.perf_counter()
                        in_flight.pop(outcome.proposal.trial._trial_id, None)
                        heartbeat.discard(outcome.proposal.trial._trial_id)
                        _record(study, outcome, policy, callback)
                        study.seconds["driver"] += time.perf_counter() - start
                    continue
                if why == SPENT:
                    warnings.warn(f"the strategy proposed no new sub-network after "
                                  f"{complete} evaluations: the search space is spent",
                                  stacklevel=3)
                    return
                if why == FULL and study._count(*study._counted_states()) >= n_evaluations:
                    return
                time.sleep(POLL_SECONDS if why == FULL else POLL_SECONDS / 4)  # BUSY, or FULL
                # with trials running elsewhere: one of them may fail and need measuring again
        except BaseException as error:
            message = "interrupted" if isinstance(error, KeyboardInterrupt) else \
                f"the search stopped ({type(error).__name__})"
            for proposal in in_flight.values():
                study._fail(proposal.trial, message, requeue=True)
            raise
        finally:
            bar.update(completed=min(study._count(*study._counted_states()), n_evaluations))


def _record(study: Study, outcome: Outcome, policy: FailurePolicy,
            callback: Callable[[Result], None] | None) -> None:
    proposal = outcome.proposal
    if outcome.lost:
        study._fail(proposal.trial, "its worker died mid-evaluation", requeue=True)
        return
    if outcome.error is not None:
        result = study.tell(proposal, error=outcome.error)
        if not isinstance(outcome.error, policy.catch):
            raise EvaluationError(
                f"evaluating trial {proposal.number} ({proposal.arch_id}) failed: "
                f"{result.error}; every finished measurement is kept in {study.location}; fix "
                "the cause and run again with --retry-failed to measure it again"
            ) from outcome.error
    else:
        result = study.tell(proposal, outcome.measured, seconds=outcome.seconds)
    if callback is not None:
        callback(result)
    policy.record(result, study.location)

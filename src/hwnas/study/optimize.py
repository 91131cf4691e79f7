"""The search loop over ask and tell, as Optuna's ``study/_optimize.py``: keep the executor
full (one in flight in-process, N on Ray workers, refilled as each finishes), write each
result as it arrives, beat for the trials in flight, and stop when the study holds its total.

Every worker of a shared study runs this loop and counts the study's finished trials in
storage, not its own; a worker with nothing to claim while others still measure waits for
them (one may fail and need measuring again), and meanwhile fails the stale ones.

``study.seconds["driver"]`` is the loop's own time: everything but the executor's blocking
(waiting for a Ray worker, or the in-process evaluation itself), so asking, proposing,
claiming, telling, storage, fetching results from workers and the progress bar all count.
The objects alive when the loop starts (the evaluator, torch, the strategy) are moved out
of the garbage collector's reach for its duration (:func:`gc.freeze`): a full collection
walks every one of them, about 0.2 s on a process holding a super-network, which a search
of a few hundred evaluations would otherwise pay once or twice.
"""

from __future__ import annotations

import collections
import gc
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
#: seconds between counts of the study's finished trials for the progress bar
BAR_SECONDS = 0.5
#: a sub-network whose worker died this many times in one search fails instead of being
#: queued again (it may take more memory than a worker has)
WORKER_DEATHS_PER_CONFIG = 3


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects alive now until the block ends (they are
    still freed by reference counting; cyclic garbage among them waits for the end)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_loop(study: Study, n_evaluations: int, executor: Executor, policy: FailurePolicy, *,
             progress: bool = True, callback: Callable[[Result], None] | None = None) -> None:
    """Measure until ``study`` holds ``n_evaluations`` finished sub-networks (see
    :meth:`hwnas.study.Study.optimize`)."""
    in_flight: dict[int, Proposal] = {}
    deaths: collections.Counter[str] = collections.Counter()  # by arch_id
    heartbeat = Heartbeat(study.storage, study._heartbeat_interval())
    wait_timeout = float(study._heartbeat_interval() or 1.0)
    executor.start(constrained_evaluator(study.evaluator(), study.spec.constraints))
    counted_at = -BAR_SECONDS
    with long_lived_frozen(), heartbeat, executor, \
            progress_bar("searching", total=n_evaluations, enabled=progress) as bar:
        try:
            while True:
                start = time.perf_counter()
                if progress and start - counted_at >= BAR_SECONDS:
                    counted_at = start
                    bar.update(completed=min(study._count(*study._counted_states()),
                                             n_evaluations))
                why = FULL
                while len(in_flight) < executor.capacity:
                    got = study._ask(n_evaluations)
                    if not isinstance(got, Proposal):
                        why = got
                        break
                    in_flight[got.trial._trial_id] = got
                    heartbeat.add(got.trial._trial_id)
                    executor.submit(got)
                if in_flight:
                    blocked = executor.blocked_seconds
                    for outcome in executor.wait(wait_timeout):
                        in_flight.pop(outcome.proposal.trial._trial_id, None)
                        heartbeat.discard(outcome.proposal.trial._trial_id)
                        _record(study, outcome, policy, callback, deaths)
                    study.seconds["driver"] += (time.perf_counter() - start
                                                - (executor.blocked_seconds - blocked))
                    continue
                study.seconds["driver"] += time.perf_counter() - start
                if why == SPENT:
                    complete = study._count(*study._counted_states())
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
            callback: Callable[[Result], None] | None, deaths: collections.Counter[str]) -> None:
    proposal, error = outcome.proposal, outcome.error
    if outcome.lost:
        deaths[proposal.arch_id] += 1
        if deaths[proposal.arch_id] < WORKER_DEATHS_PER_CONFIG:
            study._fail(proposal.trial, "its worker died mid-evaluation", requeue=True)
            return
        error = EvaluationError(
            f"its worker died on each of {WORKER_DEATHS_PER_CONFIG} tries (killed, or out of "
            "memory: this sub-network may need more than a worker has)")
    if error is not None:
        result = study.tell(proposal, error=error)
        if not isinstance(error, policy.catch):
            raise EvaluationError(
                f"evaluating trial {proposal.number} ({proposal.arch_id}) failed: "
                f"{result.error}; every finished measurement is kept in {study.location}; fix "
                "the cause and run again with --retry-failed to measure it again"
            ) from error
    else:
        result = study.tell(proposal, outcome.measured, seconds=outcome.seconds)
    if callback is not None:
        callback(result)
    policy.record(result, study.location)

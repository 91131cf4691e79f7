"""Where evaluations run: in this process, or on Ray workers
(:class:`hwnas.distributed.RayExecutor`), behind one small interface the search loop uses.

An executor takes claimed proposals (``submit``, up to ``capacity`` at once) and gives back
their outcomes as they finish (``wait``). A worker that dies mid-evaluation gives an
outcome with ``lost=True``: the loop queues that trial again.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from hwnas.study.ask_tell import Proposal


@dataclass
class Outcome:
    """What became of one submitted proposal."""

    proposal: Proposal
    measured: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    lost: bool = False


class Executor(ABC):
    """Runs evaluations; ``start`` receives the evaluator (``config -> {key: Measurement}``).
    ``blocked_seconds`` adds up the time ``wait`` spent blocked on the evaluations (waiting
    for workers, or evaluating in this process): the rest of ``wait`` is the driver's."""

    capacity: int = 1
    blocked_seconds: float = 0.0

    @abstractmethod
    def start(self, evaluate: Any) -> None:
        """Make the workers ready to evaluate with ``evaluate``."""

    @abstractmethod
    def submit(self, proposal: Proposal) -> None:
        """Start evaluating ``proposal`` (at most ``capacity`` in flight)."""

    @abstractmethod
    def wait(self, timeout: float | None) -> list[Outcome]:
        """The outcomes that finished, waiting up to ``timeout`` seconds for the first."""

    @abstractmethod
    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class InProcess(Executor):
    """Evaluate in this process, one at a time (a ``KeyboardInterrupt`` propagates)."""

    capacity = 1

    def __init__(self) -> None:
        self._evaluate: Any = None
        self._pending: list[Proposal] = []

    def start(self, evaluate: Any) -> None:
        self._evaluate = evaluate

    def close(self) -> None:
        self._pending = []

    def submit(self, proposal: Proposal) -> None:
        self._pending.append(proposal)

    def wait(self, timeout: float | None) -> list[Outcome]:
        outcomes = []
        while self._pending:
            proposal = self._pending[0]
            start = time.perf_counter()
            try:
                measured = self._evaluate(dict(proposal.config))
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001 - the failure policy decides
                outcome = Outcome(proposal, error=error, seconds=time.perf_counter() - start)
            else:
                outcome = Outcome(proposal, measured, seconds=time.perf_counter() - start)
            self.blocked_seconds += outcome.seconds
            self._pending.pop(0)
            outcomes.append(outcome)
        return outcomes

"""Ray workers for a search: one actor per worker holds the evaluator, N evaluations run at
once and each finished one is replaced at once (asynchronous refill).

The driver (the process calling ``Study.optimize``) keeps the strategy and the storage:
workers only evaluate configs and return figures, so nothing but the driver writes to the
study. The evaluator (super-network, data, measures) is built once by the driver, put in
Ray's object store once (``ray.put``) and unpacked once by each actor, which keeps it for
all its evaluations under its own thread budget (``torch.set_num_threads``).

An evaluation that raises returns the exception (the study's failure policy decides); an
actor that dies (killed, out of memory) is replaced by a new one and its trial is queued
again. Workers that cannot even start (the evaluator's code does not import in their
environment, say) stop the search at once with the cause, instead of being replaced over
and over. Without ``address`` a local Ray runtime is started for the search (no dashboard, no
network beyond this machine, workers at the driver's priority) and shut down after it; an
already initialised Ray is used as it is.
"""

from __future__ import annotations

import os
import pickle
import socket
import time
from typing import Any

from hwnas.errors import EvaluationError, InvalidConfigError, require
from hwnas.study.ask_tell import Proposal
from hwnas.study.executors import Executor, Outcome

LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}
"""Settings of a Ray runtime started for a search. Ray lowers its workers' priority by 15
by default (``worker_niceness``); the evaluations are the search's work, and their latency
figures should not yield to every other process, so workers keep the driver's priority."""


class _Worker:
    """The actor: holds the evaluator, evaluates configs one at a time."""

    def __init__(self, evaluate: Any, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        self._evaluate = evaluate

    def pid(self) -> int:
        return os.getpid()

    def evaluate(self, config: dict[str, Any]) -> tuple[Any, BaseException | None, float]:
        start = time.perf_counter()
        try:
            measured = self._evaluate(config)
        except Exception as error:  # noqa: BLE001 - returned for the failure policy
            return None, _picklable(error), time.perf_counter() - start
        return measured, None, time.perf_counter() - start


#: seconds to wait for a cluster's port to answer before calling the address wrong
CONNECT_TIMEOUT = 5.0


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at a ``host:port`` (or ``ray://host:port``)
    address: Ray itself retries such a connection for minutes. ``"auto"`` and other
    forms are left to Ray (it finds the local cluster or fails at once)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        raise InvalidConfigError(
            f"no Ray cluster answers at {address!r} ({error}); check the address, or start "
            "a cluster there with `ray start --head`") from error


def _last_line(failure: BaseException) -> str:
    """The innermost cause Ray's error text names (its last non-empty line)."""
    lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
    return lines[-1] if lines else type(failure).__name__


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - any failure to round-trip
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


class RayExecutor(Executor):
    """``workers`` Ray actors (default: the cluster's CPUs), each using ``threads`` torch
    threads; ``address`` joins a running cluster (``"auto"`` or ``"ray://host:10001"``)."""

    def __init__(self, workers: int | None = None, *, address: str | None = None,
                 threads: int = 1, object_store_memory: int = 256 * 2**20) -> None:
        if workers is not None and workers < 1:
            raise InvalidConfigError(f"workers must be >= 1, got {workers}")
        if threads < 1:
            raise InvalidConfigError(f"threads must be >= 1, got {threads}")
        self.workers, self.address, self.threads = workers, address, threads
        self.object_store_memory = object_store_memory
        self.capacity = workers or 1
        self._ray: Any = None
        self._started_ray = False
        self._evaluator_ref: Any = None
        self._actor_class: Any = None
        self._idle: list[Any] = []
        self._running: dict[Any, tuple[Proposal, Any]] = {}

    def start(self, evaluate: Any) -> None:
        ray = self._ray = require("ray", "ray")
        if not ray.is_initialized():
            if self.address is None:
                ray.init(num_cpus=self.workers or os.cpu_count(), include_dashboard=False,
                         log_to_driver=False, object_store_memory=self.object_store_memory,
                         configure_logging=False, _system_config=LOCAL_SYSTEM_CONFIG)
            else:
                _check_reachable(self.address)
                try:
                    ray.init(address=self.address, log_to_driver=False)
                except ConnectionError as error:
                    raise InvalidConfigError(
                        f"no Ray cluster found at {self.address!r} ({_last_line(error)}); "
                        "start one with `ray start --head`, or leave the address out to run "
                        "on a local runtime") from error
            self._started_ray = True
        if self.workers is None:
            self.capacity = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0,
                                       max_task_retries=0)(_Worker)
        self._evaluator_ref = ray.put(evaluate)
        self._idle = [self._new_actor() for _ in range(self.capacity)]
        try:
            ray.get([actor.pid.remote() for actor in self._idle])
        except ray.exceptions.RayError as failure:
            self.close()
            raise EvaluationError(
                f"the Ray workers could not start: {_last_line(failure)}; a worker must "
                "import the evaluator's code (install it in the workers' environment or put "
                "its folder on PYTHONPATH before Ray starts) and hold the evaluator in memory"
            ) from failure

    def _new_actor(self) -> Any:
        return self._actor_class.remote(self._evaluator_ref, self.threads)

    def submit(self, proposal: Proposal) -> None:
        actor = self._idle.pop()
        future = actor.evaluate.remote(dict(proposal.config))
        self._running[future] = (proposal, actor)

    def wait(self, timeout: float | None) -> list[Outcome]:
        ray = self._ray
        if not self._running:
            return []
        start = time.perf_counter()
        ready, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout)
        self.blocked_seconds += time.perf_counter() - start
        outcomes = []
        for future in ready:
            proposal, actor = self._running.pop(future)
            try:
                measured, error, seconds = ray.get(future)
            except ray.exceptions.RayActorError:
                self._idle.append(self._new_actor())  # the worker died: a fresh one
                outcomes.append(Outcome(proposal, lost=True))
                continue
            except ray.exceptions.RayTaskError as failure:
                cause = getattr(failure, "cause", None)
                error = cause if isinstance(cause, BaseException) else RuntimeError(str(failure))
                measured, seconds = None, 0.0
            self._idle.append(actor)
            outcomes.append(Outcome(proposal, measured, error, seconds))
        return outcomes

    def actor_pids(self) -> list[int]:
        """The process ids of the idle actors (tests kill one)."""
        return [self._ray.get(actor.pid.remote()) for actor in self._idle]

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for actor in self._idle + [actor for _, actor in self._running.values()]:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                continue
        self._idle, self._running = [], {}
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

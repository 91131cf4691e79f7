"""Heartbeats of the trials a worker is measuring, from a background thread.

Optuna's own heartbeat thread runs only inside ``optuna.Study.optimize``; hwnas drives the
trials itself, so it beats for them here (``storage.record_heartbeat`` every interval) for
as long as they are in flight. The first beat is written with the claim
(:func:`hwnas.storage.claim_trial`), so no claimed trial is ever without one.
"""

from __future__ import annotations

import threading
from types import TracebackType

import optuna


class Heartbeat:
    """Beat for a changing set of trial ids every ``interval`` seconds (None: never)."""

    def __init__(self, storage: optuna.storages.BaseStorage, interval: float | None) -> None:
        self.storage, self.interval = storage, interval
        self._trial_ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, trial_id: int) -> None:
        with self._lock:
            self._trial_ids.add(trial_id)

    def discard(self, trial_id: int) -> None:
        with self._lock:
            self._trial_ids.discard(trial_id)

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            with self._lock:
                trial_ids = sorted(self._trial_ids)
            for trial_id in trial_ids:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # noqa: BLE001 - a missed beat is retried next interval
                    continue

    def __enter__(self) -> Heartbeat:
        if self.interval is not None:
            self._thread = threading.Thread(target=self._run, name="hwnas-heartbeat",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

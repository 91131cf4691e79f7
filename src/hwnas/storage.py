"""Opening Optuna storage for a study: a path means SQLite; URLs pass through.

A plain path is checked before Optuna touches it, so that a file that is not a study is
reported (and left as it was) instead of being turned into an empty database.

Several processes share one study through this storage, so the few steps that must not
interleave are single statements or single transactions here: publishing a new SQLite
study file (:func:`publish_sqlite`, create-if-absent by a hard link), a compare-and-set of
a study attribute (:func:`compare_and_set`), and claiming a queued trial together with its
owner and first heartbeat (:func:`claim_trial`). They use the tables of Optuna's RDB
storage (``optuna.storages._rdb.models``), so they work on SQLite, PostgreSQL and MySQL.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna

from hwnas.errors import StudyError
from hwnas.storage_sql import (
    claim_below,
    count_in,
    drop_user_attrs,
    read_trials,
    statements,
    tables,
)

#: seconds between a running trial's heartbeats, and silence after which it counts as stale
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30
#: how many times a trial whose worker went silent is queued again
MAX_STALE_RETRIES = 3

_SQLITE_HEADER = b"SQLite format 3\x00"


MEMORY = ":memory:"


def storage_url(location: str | Path) -> str:
    text = str(location)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def sqlite_path(location: str | Path) -> Path | None:
    """The SQLite file behind ``location``, or None for a URL or ``":memory:"``."""
    text = str(location)
    if text == MEMORY:
        return None
    if text.startswith("sqlite:///"):
        return Path(text[len("sqlite:///"):])
    return None if "://" in text else Path(text)


def check_study_file(location: str | Path) -> None:
    """Raise :class:`StudyError` unless ``location`` is an existing SQLite Optuna database."""
    path = sqlite_path(location)
    if path is None:
        return
    if not path.is_file():
        raise StudyError(
            f"study {str(path)!r} does not exist; create it with `hwnas search` "
            "(or Study.create)"
        )
    with open(path, "rb") as handle:
        header = handle.read(len(_SQLITE_HEADER))
    if header != _SQLITE_HEADER:
        raise StudyError(f"{str(path)!r} is not a study database (not an SQLite file)")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as error:
        raise StudyError(f"{str(path)!r} is not a study database ({error})") from None
    finally:
        connection.close()
    if not {"studies", "trials"} <= tables:
        raise StudyError(f"{str(path)!r} is an SQLite file but not a study database")


def remove_sqlite(path: Path) -> None:
    """Delete an SQLite study file with its write-ahead log and shared-memory files."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            candidate.unlink()


def _connect_sqlite(path: Path) -> sqlite3.Connection:
    """An SQLite connection in write-ahead-log mode, synced at checkpoints: a killed process
    loses nothing committed (only a power cut could), a commit costs no fsync, and readers
    never block the writer."""
    connection = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def open_storage(location: str | Path, *, heartbeat_interval: int | None = HEARTBEAT_INTERVAL,
                 grace_period: int | None = GRACE_PERIOD) -> optuna.storages.BaseStorage:
    """Optuna storage for a path (SQLite), a database URL, or ``":memory:"`` (not kept).

    Database storage records heartbeats of running trials every ``heartbeat_interval``
    seconds (``None``: none); a trial silent for ``grace_period`` seconds is failed by
    :func:`optuna.storages.fail_stale_trials` and queued again (up to
    :data:`MAX_STALE_RETRIES` times). Opening retries when another process is creating the
    same database's tables at that moment (Optuna's schema setup is not race-free).
    """
    if str(location) == MEMORY:
        return optuna.storages.InMemoryStorage()
    path = sqlite_path(location)
    engine_kwargs = None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"creator": lambda: _connect_sqlite(path)}
    heartbeat: dict[str, Any] = {}
    last: Exception | None = None
    for attempt in range(8):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                if heartbeat_interval is not None:
                    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(MAX_STALE_RETRIES)
                    heartbeat = {"heartbeat_interval": heartbeat_interval,
                                 "grace_period": grace_period or 2 * heartbeat_interval,
                                 "heartbeat_stale_trial_callback": retry}
                return optuna.storages.RDBStorage(storage_url(location),
                                                  engine_kwargs=engine_kwargs, **heartbeat)
        except Exception as error:  # noqa: BLE001 - SQLAlchemy raises many kinds
            last = error
            if not _creation_race(error):
                break
            time.sleep(0.05 * (attempt + 1) * (1 + random.random()))
    raise StudyError(f"cannot open study storage {str(location)!r}: {last}") from None


def _creation_race(error: Exception) -> bool:
    """Whether ``error`` is what two processes creating one database's tables at once see
    (a unique constraint on ``alembic_version``/``version_info``, a table that exists, a
    locked database)."""
    text = str(error).lower()
    return any(sign in text for sign in ("unique constraint", "already exists", "locked",
                                         "duplicate", "integrity"))


def publish_sqlite(built: Path, path: Path) -> bool:
    """Move the complete study file ``built`` to ``path`` unless ``path`` exists (one atomic
    step: a hard link); False if another process published one first (``built`` is then
    removed). So an SQLite study appears whole or not at all."""
    try:
        os.link(built, path)
    except FileExistsError:
        return False
    finally:
        remove_sqlite(built)
    return True


# -- steps that must not interleave between processes ------------------------------------------
# Each runs prebuilt statements (:mod:`hwnas.storage_sql`): building them afresh per call cost
# more than running them.
def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def compare_and_set(storage: optuna.storages.BaseStorage, study_id: int, key: str,
                    expected: Any, new: Any) -> bool:
    """Set the study system attribute ``key`` to ``new`` if it holds ``expected`` (``None``:
    if it is absent), in one statement; True when this call changed it. Storage without a
    database (in memory) has one process only: there it is a plain read and write."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        current = storage.get_study_system_attrs(study_id).get(key)
        if current != expected:
            return False
        storage.set_study_system_attr(study_id, key, new)
        return True
    import sqlalchemy

    sql = statements()
    with storage.engine.begin() as connection:
        if expected is None:
            try:
                connection.execute(sql.add_study_attr, {"study_id": study_id, "key": key,
                                                        "value_json": _json(new)})
            except sqlalchemy.exc.IntegrityError:
                return False
            return True
        changed = connection.execute(sql.swap_study_attr, {
            "b_study": study_id, "b_key": key, "b_expected": _json(expected),
            "b_new": _json(new)})
        return changed.rowcount == 1


def read_attr(storage: optuna.storages.BaseStorage, study_id: int, key: str) -> Any:
    """The study system attribute ``key`` as :func:`compare_and_set` compares it (one query
    on a database)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        return storage.get_study_system_attrs(study_id).get(key)
    with storage.engine.connect() as connection:
        text = connection.execute(statements().study_attr,
                                  {"b_study": study_id, "b_key": key}).scalar()
    return json.loads(text) if text is not None else None


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def claim_trial(storage: optuna.storages.BaseStorage, study_id: int, trial_id: int,
                worker: str, limit: int | None = None,
                counted: tuple = (optuna.trial.TrialState.COMPLETE,)) -> bool:
    """Switch a WAITING trial to RUNNING, record its ``worker`` and its first heartbeat, in
    one transaction; only while the study holds fewer than ``limit`` COMPLETE plus RUNNING
    trials (``None``: no limit). False if another worker took it first or the limit is
    reached. The count and the switch are one statement, so several workers never overshoot
    the study's total."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        return _claim_in_memory(storage, study_id, trial_id, worker, limit, counted)
    sql = statements()
    with storage.engine.begin() as connection:
        if limit is None:
            changed = connection.execute(sql.claim, {"b_trial": trial_id, "b_now": _now()})
        else:  # PRUNED counts too with count_infeasible
            changed = connection.execute(
                claim_below((*counted, optuna.trial.TrialState.RUNNING)),
                {"b_trial": trial_id, "b_now": _now(), "b_study": study_id, "b_limit": limit})
        if changed.rowcount != 1:
            return False
        # a queued copy of a stale trial may carry the stale trial's owner and beat
        connection.execute(sql.drop_trial_attr, {"b_trial": trial_id, "b_key": WORKER_ATTR})
        connection.execute(sql.add_trial_attr, {"trial_id": trial_id, "key": WORKER_ATTR,
                                                "value_json": _json(worker)})
        # no beat to replace: only claimed (RUNNING) trials ever beat, and a queued copy is a
        # new trial
        connection.execute(sql.add_beat, {"b_trial": trial_id})
    return True


def add_trials(storage: optuna.storages.BaseStorage, study_id: int,
               templates: list[optuna.trial.FrozenTrial]) -> None:
    """Add WAITING trials (their params, distributions and user attributes) in one
    transaction: a batch of proposals costs one commit and one statement per trial plus
    three, not one commit per trial and three queries per parameter as
    ``create_new_trial`` does. Numbers follow Optuna's rule (how many trials of the study
    came before): the first is counted once the transaction holds the write lock, and the
    rest follow it (nothing else adds trials to the study until the commit)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        for template in templates:
            storage.create_new_trial(study_id, template_trial=template)
        return
    if any(t.state != optuna.trial.TrialState.WAITING for t in templates):
        raise ValueError("add_trials adds WAITING trials only")
    if not templates:
        return
    from optuna.distributions import distribution_to_json

    sql = statements()
    params, attrs = [], []
    texts: dict[int, str] = {}  # each distinct distribution written once (all are alive here)
    with storage.engine.begin() as connection:
        locked = sql.lock_study
        if connection.dialect.name != "sqlite":
            locked = locked.with_for_update()  # numbers are counted under this lock
        connection.execute(locked, {"b_study": study_id})
        number = 0
        for position, template in enumerate(templates):
            trial_id = connection.execute(sql.add_trial, {
                "b_study": study_id, "b_number": number if position else None}
            ).inserted_primary_key[0]
            if position == 0:  # SQLite: the insert took the write lock; count under it
                number = connection.execute(sql.count_before, {
                    "b_study": study_id, "b_trial": trial_id}).scalar_one()
                connection.execute(sql.set_number, {"b_trial": trial_id, "b_number": number})
            number += 1
            params.extend(
                {"trial_id": trial_id, "param_name": name,
                 "param_value": template.distributions[name].to_internal_repr(value),
                 "distribution_json": texts.get(id(template.distributions[name]))
                 or texts.setdefault(id(template.distributions[name]),
                                     distribution_to_json(template.distributions[name]))}
                for name, value in template.params.items())
            attrs.extend({"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                         for key, value in template.user_attrs.items())
        if params:
            connection.execute(sql.add_params, params)
        if attrs:
            connection.execute(sql.add_user_attrs, attrs)


def complete_trial(storage: optuna.storages.BaseStorage, trial_id: int,
                   values: list[float], user_attrs: dict[str, Any], *,
                   replace: bool = True) -> bool:
    """Write a RUNNING trial's user attributes and values and make it COMPLETE, in one
    transaction; False (nothing written) if it is no longer RUNNING (another worker failed
    it as stale meanwhile). ``replace=False``: the trial has none of these attributes yet
    (saves deleting them first)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        try:
            for key, value in user_attrs.items():
                storage.set_trial_user_attr(trial_id, key, value)
            return storage.set_trial_state_values(trial_id, optuna.trial.TrialState.COMPLETE,
                                                  values)
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
    sql = statements()
    stored = tables().TrialValueModel
    with storage.engine.begin() as connection:
        changed = connection.execute(sql.complete, {"b_trial": trial_id, "b_now": _now()})
        if changed.rowcount != 1:
            return False
        if user_attrs:
            if replace:
                connection.execute(drop_user_attrs(tuple(user_attrs)), {"b_trial": trial_id})
            connection.execute(sql.add_user_attrs, [
                {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                for key, value in user_attrs.items()])
        rows = []
        for objective, value in enumerate(values):
            number, kind = stored.value_to_stored_repr(value)
            rows.append({"trial_id": trial_id, "objective": objective, "value": number,
                         "value_type": kind})
        if rows:
            connection.execute(sql.add_values, rows)
    return True


def waiting_trials(storage: optuna.storages.BaseStorage, study_id: int,
                   attr: str = "proposal") -> list[optuna.trial.FrozenTrial]:
    """The study's WAITING trials with only the user attribute ``attr`` read (one query:
    Optuna's ``get_all_trials`` loads every attribute and parameter through the ORM, which
    costs far more than claiming a trial)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        return storage.get_all_trials(study_id, deepcopy=False,
                                      states=(optuna.trial.TrialState.WAITING,))
    with storage.engine.connect() as connection:
        rows = connection.execute(statements().waiting,
                                  {"b_study": study_id, "b_key": attr}).all()
    return [optuna.trial.FrozenTrial(
        number=number, state=optuna.trial.TrialState.WAITING, value=None,
        datetime_start=None, datetime_complete=None, params={}, distributions={},
        user_attrs={attr: json.loads(value)} if value is not None else {}, system_attrs={},
        intermediate_values={}, trial_id=trial_id) for trial_id, number, value in rows]


def trial_states(storage: optuna.storages.RDBStorage,
                 study_id: int) -> list[tuple[int, optuna.trial.TrialState]]:
    """``(trial_id, state)`` of every trial of the study, in creation order (one query)."""
    with storage.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(statements().states,
                                                         {"b_study": study_id}).all()]


def get_trials(storage: optuna.storages.BaseStorage, study_id: int,
               trial_ids: list[int] | None = None,
               states: tuple[optuna.trial.TrialState, ...] | None = None
               ) -> list[optuna.trial.FrozenTrial]:
    """The study's trials (those of ``trial_ids`` and/or in ``states``; all by default) in
    creation order: on a database in six queries (:func:`hwnas.storage_sql.read_trials`),
    not Optuna's ORM load of every trial and relation."""
    if isinstance(storage, optuna.storages.RDBStorage):
        return read_trials(storage, study_id, trial_ids, states)
    trials = storage.get_all_trials(study_id, deepcopy=False, states=states)
    if trial_ids is None:
        return trials
    wanted = set(trial_ids)
    return [t for t in trials if t._trial_id in wanted]


def count_trials(storage: optuna.storages.BaseStorage, study_id: int,
                 states: tuple[optuna.trial.TrialState, ...]) -> int:
    """How many trials of the study are in ``states`` (one COUNT query on a database)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        return len(storage.get_all_trials(study_id, deepcopy=False, states=states))
    with storage.engine.connect() as connection:
        return int(connection.execute(count_in(tuple(states)),
                                      {"b_study": study_id}).scalar_one())


def _claim_in_memory(storage: optuna.storages.BaseStorage, study_id: int, trial_id: int,
                     worker: str, limit: int | None,
                     counted: tuple = (optuna.trial.TrialState.COMPLETE,)) -> bool:
    if limit is not None:
        busy = storage.get_all_trials(study_id, deepcopy=False, states=(
            *counted, optuna.trial.TrialState.RUNNING))
        if len(busy) >= limit:
            return False
    if not storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING):
        return False
    storage.set_trial_system_attr(trial_id, WORKER_ATTR, worker)
    return True


#: the trial system attribute naming the process that measures it (``host:pid``)
WORKER_ATTR = "worker"

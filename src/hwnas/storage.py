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
def _tables() -> Any:
    from optuna.storages._rdb import models

    return models


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

    table = _tables().StudySystemAttributeModel.__table__
    with storage.engine.begin() as connection:
        if expected is None:
            try:
                connection.execute(table.insert().values(
                    study_id=study_id, key=key, value_json=_json(new)))
            except sqlalchemy.exc.IntegrityError:
                return False
            return True
        changed = connection.execute(
            table.update()
            .where(table.c.study_id == study_id, table.c.key == key,
                   table.c.value_json == _json(expected))
            .values(value_json=_json(new)))
        return changed.rowcount == 1


def read_attr(storage: optuna.storages.BaseStorage, study_id: int, key: str) -> Any:
    """The study system attribute ``key`` as :func:`compare_and_set` compares it."""
    return storage.get_study_system_attrs(study_id).get(key)


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
    import sqlalchemy

    models = _tables()
    trials = models.TrialModel.__table__
    attrs = models.TrialSystemAttributeModel.__table__
    beats = models.TrialHeartbeatModel.__table__
    condition = [trials.c.trial_id == trial_id,
                 trials.c.state == optuna.trial.TrialState.WAITING]
    if limit is not None:
        others = trials.alias("others")
        busy = (sqlalchemy.select(sqlalchemy.func.count())
                .select_from(others)
                .where(others.c.study_id == study_id,
                       others.c.state.in_([*counted,  # PRUNED too with count_infeasible
                                           optuna.trial.TrialState.RUNNING])))
        counted = busy.subquery("counted")  # a derived table: MySQL reads its own table so
        condition.append(sqlalchemy.select(counted).scalar_subquery() < limit)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with storage.engine.begin() as connection:
        changed = connection.execute(trials.update().where(*condition).values(
            state=optuna.trial.TrialState.RUNNING, datetime_start=now))
        if changed.rowcount != 1:
            return False
        connection.execute(attrs.delete().where(attrs.c.trial_id == trial_id,
                                                attrs.c.key == WORKER_ATTR))
        connection.execute(attrs.insert().values(trial_id=trial_id, key=WORKER_ATTR,
                                                 value_json=_json(worker)))
        connection.execute(beats.delete().where(beats.c.trial_id == trial_id))
        connection.execute(beats.insert().values(trial_id=trial_id,
                                                 heartbeat=sqlalchemy.func.now()))
    return True


def add_trials(storage: optuna.storages.BaseStorage, study_id: int,
               templates: list[optuna.trial.FrozenTrial]) -> None:
    """Add WAITING trials (their params, distributions and user attributes) in one
    transaction: a batch of proposals costs one commit, not one per trial and three queries
    per parameter as ``create_new_trial`` does. Numbers follow Optuna's rule (how many
    trials of the study came before)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        for template in templates:
            storage.create_new_trial(study_id, template_trial=template)
        return
    import sqlalchemy
    from optuna.distributions import distribution_to_json

    models = _tables()
    studies = models.StudyModel.__table__
    trials = models.TrialModel.__table__
    params = models.TrialParamModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    with storage.engine.begin() as connection:
        locked = sqlalchemy.select(studies.c.study_id).where(studies.c.study_id == study_id)
        if connection.dialect.name != "sqlite":
            locked = locked.with_for_update()
        connection.execute(locked)  # numbers are counted under this lock (SQLite: the write)
        for template in templates:
            if template.state != optuna.trial.TrialState.WAITING:
                raise ValueError("add_trials adds WAITING trials only")
            trial_id = connection.execute(trials.insert().values(
                study_id=study_id, number=None, state=optuna.trial.TrialState.WAITING)
            ).inserted_primary_key[0]
            number = connection.execute(
                sqlalchemy.select(sqlalchemy.func.count()).select_from(trials)
                .where(trials.c.study_id == study_id, trials.c.trial_id < trial_id)).scalar_one()
            connection.execute(trials.update().where(trials.c.trial_id == trial_id)
                               .values(number=number))
            if template.params:
                connection.execute(params.insert(), [
                    {"trial_id": trial_id, "param_name": name,
                     "param_value": template.distributions[name].to_internal_repr(value),
                     "distribution_json": distribution_to_json(template.distributions[name])}
                    for name, value in template.params.items()])
            if template.user_attrs:
                connection.execute(attrs.insert(), [
                    {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                    for key, value in template.user_attrs.items()])


def complete_trial(storage: optuna.storages.BaseStorage, trial_id: int,
                   values: list[float], user_attrs: dict[str, Any]) -> bool:
    """Write a RUNNING trial's user attributes and values and make it COMPLETE, in one
    transaction; False (nothing written) if it is no longer RUNNING (another worker failed
    it as stale meanwhile)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        try:
            for key, value in user_attrs.items():
                storage.set_trial_user_attr(trial_id, key, value)
            return storage.set_trial_state_values(trial_id, optuna.trial.TrialState.COMPLETE,
                                                  values)
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
    models = _tables()
    trials = models.TrialModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    stored = models.TrialValueModel
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with storage.engine.begin() as connection:
        changed = connection.execute(
            trials.update().where(trials.c.trial_id == trial_id,
                                  trials.c.state == optuna.trial.TrialState.RUNNING)
            .values(state=optuna.trial.TrialState.COMPLETE, datetime_complete=now))
        if changed.rowcount != 1:
            return False
        connection.execute(attrs.delete().where(attrs.c.trial_id == trial_id,
                                                attrs.c.key.in_(list(user_attrs))))
        connection.execute(attrs.insert(), [
            {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
            for key, value in user_attrs.items()])
        rows = []
        for objective, value in enumerate(values):
            number, kind = stored.value_to_stored_repr(value)
            rows.append({"trial_id": trial_id, "objective": objective, "value": number,
                         "value_type": kind})
        connection.execute(stored.__table__.insert(), rows)
    return True


def waiting_trials(storage: optuna.storages.BaseStorage, study_id: int,
                   attr: str = "proposal") -> list[optuna.trial.FrozenTrial]:
    """The study's WAITING trials with only the user attribute ``attr`` read (one query:
    Optuna's ``get_all_trials`` loads every attribute and parameter through the ORM, which
    costs far more than claiming a trial)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        return storage.get_all_trials(study_id, deepcopy=False,
                                      states=(optuna.trial.TrialState.WAITING,))
    import sqlalchemy

    models = _tables()
    trials = models.TrialModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    query = (sqlalchemy.select(trials.c.trial_id, trials.c.number, attrs.c.value_json)
             .select_from(trials.outerjoin(attrs, sqlalchemy.and_(
                 attrs.c.trial_id == trials.c.trial_id, attrs.c.key == attr)))
             .where(trials.c.study_id == study_id,
                    trials.c.state == optuna.trial.TrialState.WAITING))
    with storage.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [optuna.trial.FrozenTrial(
        number=number, state=optuna.trial.TrialState.WAITING, value=None,
        datetime_start=None, datetime_complete=None, params={}, distributions={},
        user_attrs={attr: json.loads(value)} if value is not None else {}, system_attrs={},
        intermediate_values={}, trial_id=trial_id) for trial_id, number, value in rows]


def trial_states(storage: optuna.storages.RDBStorage,
                 study_id: int) -> list[tuple[int, optuna.trial.TrialState]]:
    """``(trial_id, state)`` of every trial of the study, in creation order (one query)."""
    import sqlalchemy

    trials = _tables().TrialModel.__table__
    with storage.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            sqlalchemy.select(trials.c.trial_id, trials.c.state)
            .where(trials.c.study_id == study_id).order_by(trials.c.trial_id)).all()]


def count_trials(storage: optuna.storages.BaseStorage, study_id: int,
                 states: tuple[optuna.trial.TrialState, ...]) -> int:
    """How many trials of the study are in ``states`` (one COUNT query on a database)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        return len(storage.get_all_trials(study_id, deepcopy=False, states=states))
    import sqlalchemy

    trials = _tables().TrialModel.__table__
    with storage.engine.connect() as connection:
        return int(connection.execute(
            sqlalchemy.select(sqlalchemy.func.count()).select_from(trials)
            .where(trials.c.study_id == study_id, trials.c.state.in_(states))).scalar_one())


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

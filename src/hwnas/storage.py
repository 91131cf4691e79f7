"""Opening Optuna storage for a study: a path means SQLite; URLs pass through.

A plain path is checked before Optuna touches it, so that a file that is not a study is
reported (and left as it was) instead of being turned into an empty database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna

from hwnas.errors import StudyError

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


def open_storage(location: str | Path) -> optuna.storages.BaseStorage:
    """Optuna storage for a path (SQLite), a database URL, or ``":memory:"`` (not kept)."""
    if str(location) == MEMORY:
        return optuna.storages.InMemoryStorage()
    path = sqlite_path(location)
    engine_kwargs = None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"creator": lambda: _connect_sqlite(path)}
    try:
        return optuna.storages.RDBStorage(storage_url(location), engine_kwargs=engine_kwargs)
    except Exception as error:  # noqa: BLE001 - SQLAlchemy raises many kinds
        raise StudyError(f"cannot open study storage {str(location)!r}: {error}") from None

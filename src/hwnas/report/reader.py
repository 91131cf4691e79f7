"""A stored study opened to read it only: results, fronts, hypervolumes, the spec.

What ``hwnas show``, ``pick``, ``report`` and ``info STUDY`` need, without the evaluation
machinery (and so without importing torch): the same trial store and analysis as
:class:`hwnas.study.Study`, opened as :meth:`hwnas.study.Study.load` opens it, but it can
neither measure nor search. Call :meth:`StoredStudy.full` for a :class:`~hwnas.study.Study`
when you need to (export, re-measure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.errors import StudyError
from hwnas.storage import check_study_file, sqlite_path
from hwnas.study.analysis import Analysis
from hwnas.study.trials import STUDY_NAME, TrialStore, open_stored
from hwnas.study_spec import StudySpec


class StoredStudy(TrialStore, Analysis):
    """A study read from its storage; see the module's docstring."""

    def __init__(self, location: str, storage: Any, spec: StudySpec) -> None:
        self.location, self.storage, self.spec = location, storage, spec
        self._study_id = storage.get_study_id_from_name(STUDY_NAME)
        self.seconds = {"evaluate": 0.0, "strategy": 0.0, "storage": 0.0, "driver": 0.0}
        self._waiting = []

    @classmethod
    def open(cls, location: str | Path) -> StoredStudy:
        """Open the study at ``location`` (a path or a storage URL) for reading."""
        storage, spec = open_stored(location)
        return cls(str(location), storage, spec)

    @property
    def base_dir(self) -> Path | None:
        path = sqlite_path(self.location)
        return path.resolve().parent if path is not None else None

    def full(self, **load_options: Any) -> Any:
        """The same study as a :class:`hwnas.study.Study` (imports the evaluation machinery),
        e.g. to export or re-measure."""
        from hwnas.study import Study

        return Study.load(self.location, **load_options)


def read_study(study: Any) -> Any:
    """``study`` itself if it is already opened, else it opened for reading."""
    if isinstance(study, (str, Path)):
        return StoredStudy.open(study)
    return study


def is_study_file(name: str | Path) -> bool:
    """Whether ``name`` is an existing SQLite file holding an Optuna study."""
    path = Path(name)
    if not path.is_file():
        return False
    try:
        check_study_file(path)
    except StudyError:
        return False
    return True

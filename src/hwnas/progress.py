"""Progress bars (rich) that can be switched off for tests and logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class _Bar:
    def __init__(self, progress: Progress | None, task: int | None) -> None:
        self._progress, self._task = progress, task

    def update(self, completed: float | None = None, advance: float | None = None,
               description: str | None = None) -> None:
        if self._progress is None:
            return
        self._progress.update(self._task, completed=completed, advance=advance,
                              description=description)


@contextmanager
def progress_bar(description: str, total: float, enabled: bool = True) -> Iterator[_Bar]:
    """A rich progress bar (``enabled=False`` gives a silent stand-in)."""
    if not enabled:
        yield _Bar(None, None)
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
    with progress:
        task = progress.add_task(description, total=total)
        yield _Bar(progress, task)

"""Writing result files: atomically, with the permissions a plain ``open`` would give.

Every file hwnas writes for the user (checkpoints, exported models, plots, tables, the
report page) goes through :func:`atomic_write`: a temporary file in the same folder,
renamed over the target, so a reader never sees half a file and a crash leaves the old
one. ``tempfile.mkstemp`` creates the temporary file 0600; it is set to 0666 less the
process's umask before the rename, as ``open`` would have made it. Torch-free.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[IO[Any]], object], mode: str = "wb") -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path`` (opened with ``mode``),
    then rename it over ``path``; the folder is created if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        with open(temporary, mode) as stream:
            write(stream)
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path

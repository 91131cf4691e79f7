"""One error family: every error a user can cause derives from :class:`HwnasError`.

Each message says what was wrong (quoting the value), what is allowed, and what to do.
The CLI prints ``str(error)`` on one line and exits non-zero.
"""

from __future__ import annotations


class HwnasError(Exception):
    """Base class of every error hwnas raises for bad input or a bad state."""


class UnknownNameError(HwnasError, KeyError):
    """A name (super-network, strategy, objective, predictor, dataset) is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidConfigError(HwnasError, ValueError):
    """A sub-network config does not fit the search space, or an option is out of range."""


class CheckpointError(HwnasError):
    """A checkpoint is missing, unreadable, or does not fit the super-network."""


class StudyError(HwnasError):
    """A study file is missing, not a study, or conflicts with what was asked."""


class EvaluationError(HwnasError):
    """Measuring a sub-network failed; finished measurements are kept in the study."""


class MissingExtraError(HwnasError, ImportError):
    """An optional dependency is not installed."""


def require(module: str, extra: str):
    """Import an optional dependency, or say which extra installs it.

    >>> require("json", "core").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"{module!r} is not installed; install it with: pip install 'hwnas[{extra}]'"
        ) from error

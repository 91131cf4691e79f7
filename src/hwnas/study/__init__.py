"""The study: storage (Optuna) plus strategy; evaluations come from a stored spec.

The names are imported on first use, so reading a stored study (``hwnas.study.trials``,
``hwnas.study.analysis``: what ``hwnas show``, ``pick`` and ``report`` need) does not import
the evaluation machinery, torch included.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {"Proposal": "hwnas.study.ask_tell", "DEFAULT_METRICS": "hwnas.study.core",
              "STUDY_NAME": "hwnas.study.core", "Study": "hwnas.study.core",
              "Executor": "hwnas.study.executors", "InProcess": "hwnas.study.executors",
              "Outcome": "hwnas.study.executors", "FailurePolicy": "hwnas.study.loop",
              "check_measured": "hwnas.study.loop"}

__all__ = ["DEFAULT_METRICS", "STUDY_NAME", "Executor", "FailurePolicy", "InProcess", "Outcome",
           "Proposal", "Study", "check_measured"]


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(_MODULE_OF[name]), name)
    raise AttributeError(f"module 'hwnas.study' has no attribute {name!r}")

"""The study: storage (Optuna) plus strategy; evaluations come from a stored spec."""

from hwnas.study.core import DEFAULT_METRICS, STUDY_NAME, Study
from hwnas.study.loop import FailurePolicy, check_measured

__all__ = ["DEFAULT_METRICS", "STUDY_NAME", "FailurePolicy", "Study", "check_measured"]

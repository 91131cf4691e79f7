"""The study: storage (Optuna) plus strategy; evaluations come from a stored spec."""

from hwnas.study.ask_tell import Proposal
from hwnas.study.core import DEFAULT_METRICS, STUDY_NAME, Study
from hwnas.study.executors import Executor, InProcess, Outcome
from hwnas.study.loop import FailurePolicy, check_measured

__all__ = ["DEFAULT_METRICS", "STUDY_NAME", "Executor", "FailurePolicy", "InProcess", "Outcome",
           "Proposal", "Study", "check_measured"]

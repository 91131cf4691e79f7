"""hwnas: hardware-aware neural architecture search over weight-sharing super-networks.

The public API in one place; each name lives in a small module of its own.
"""

from __future__ import annotations

from hwnas.errors import (
    CheckpointError,
    EvaluationError,
    HwnasError,
    InvalidConfigError,
    MissingExtraError,
    StudyError,
    UnknownNameError,
)
from hwnas.measure import MEASURES, Evaluator, Measure, Measurement, Objective
from hwnas.results import Result
from hwnas.space import Choice, Config, IntRange, SearchSpace
from hwnas.strategies import STRATEGIES, Strategy, create_strategy
from hwnas.study import Study
from hwnas.supernets import (
    SUPERNETS,
    Supernet,
    create_supernet,
    load_supernet,
    save_checkpoint,
)
from hwnas.workflow import (
    evaluate_config,
    export_subnetwork,
    quickstart,
    run_search,
    train_supernet,
)

__version__ = "0.1.0"

__all__ = [
    "MEASURES", "STRATEGIES", "SUPERNETS", "CheckpointError", "Choice", "Config",
    "EvaluationError", "Evaluator", "HwnasError", "IntRange", "InvalidConfigError", "Measure",
    "Measurement", "MissingExtraError", "Objective", "Result", "SearchSpace", "Strategy",
    "Study", "StudyError", "Supernet", "UnknownNameError", "create_strategy",
    "create_supernet", "evaluate_config", "export_subnetwork", "load_supernet", "quickstart",
    "run_search", "save_checkpoint", "train_supernet",
]

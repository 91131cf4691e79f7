"""hwnas: hardware-aware neural architecture search over weight-sharing super-networks.

The public API in one place; each name lives in a small module of its own and is imported
on first use, so that ``hwnas --help`` does not wait for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "hwnas.errors": ["CheckpointError", "EvaluationError", "HwnasError", "InvalidConfigError",
                     "MissingExtraError", "StudyError", "UnknownNameError"],
    "hwnas.data": ["DataSplits", "load_npz"],
    "hwnas.evaluation": ["EvaluatorSpec", "Pipeline", "build_evaluator", "create_evaluator"],
    "hwnas.export": ["write_module"],
    "hwnas.measure": ["MEASURES", "Evaluator", "LatencyMeasure", "Measure", "Measurement",
                      "Metric", "Objective"],
    "hwnas.results": ["Result"],
    "hwnas.space": ["Categorical", "Choice", "Config", "IntRange", "SearchSpace"],
    "hwnas.strategies": ["STRATEGIES", "Strategy", "create_strategy"],
    "hwnas.study": ["Study"],
    "hwnas.supernets": ["SUPERNETS", "Supernet", "create_supernet", "load_supernet",
                        "save_checkpoint"],
    "hwnas.workflow": ["evaluate_config", "export_subnetwork", "quickstart", "run_search",
                       "train_supernet"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(_MODULE_OF[name]), name)
    raise AttributeError(f"module 'hwnas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__ + ["__version__"]


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from hwnas.data import DataSplits, load_npz  # noqa: F401
    from hwnas.errors import (  # noqa: F401
        CheckpointError,
        EvaluationError,
        HwnasError,
        InvalidConfigError,
        MissingExtraError,
        StudyError,
        UnknownNameError,
    )
    from hwnas.evaluation import (  # noqa: F401
        EvaluatorSpec,
        Pipeline,
        build_evaluator,
        create_evaluator,
    )
    from hwnas.export import write_module  # noqa: F401
    from hwnas.measure import (  # noqa: F401
        MEASURES,
        Evaluator,
        LatencyMeasure,
        Measure,
        Measurement,
        Metric,
        Objective,
    )
    from hwnas.results import Result  # noqa: F401
    from hwnas.space import Categorical, Choice, Config, IntRange, SearchSpace  # noqa: F401
    from hwnas.strategies import STRATEGIES, Strategy, create_strategy  # noqa: F401
    from hwnas.study import Study  # noqa: F401
    from hwnas.supernets import (  # noqa: F401
        SUPERNETS,
        Supernet,
        create_supernet,
        load_supernet,
        save_checkpoint,
    )
    from hwnas.workflow import (  # noqa: F401
        evaluate_config,
        export_subnetwork,
        quickstart,
        run_search,
        train_supernet,
    )

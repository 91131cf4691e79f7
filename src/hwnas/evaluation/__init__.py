"""Evaluation as a stored, declarative pipeline: a spec (source, data, measures by key,
preparation, transform) kept with the study, and the one builder that turns it into an
evaluator (``config -> {key: Measurement}``).

The spec is imported at once (it needs nothing heavy); the builder and the pipeline, which
import torch, on first use of one of their names (which also registers the ``quantize``
transform), so reading a stored study stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from hwnas.evaluation.spec import DataSpec, EvaluatorSpec, MeasureSpec, SourceSpec

_MODULE_OF = {"DATA_SOURCES": "hwnas.evaluation.builder", "SOURCES": "hwnas.evaluation.builder",
              "build_data": "hwnas.evaluation.builder",
              "build_evaluator": "hwnas.evaluation.builder",
              "create_evaluator": "hwnas.evaluation.builder",
              "TRANSFORMS": "hwnas.evaluation.pipeline", "Artifacts": "hwnas.evaluation.pipeline",
              "CallableEvaluator": "hwnas.evaluation.pipeline",
              "LookupEvaluator": "hwnas.evaluation.pipeline",
              "Pipeline": "hwnas.evaluation.pipeline", "Transform": "hwnas.evaluation.pipeline"}

__all__ = ["DATA_SOURCES", "SOURCES", "TRANSFORMS", "Artifacts", "CallableEvaluator",
           "DataSpec", "EvaluatorSpec", "LookupEvaluator", "MeasureSpec", "Pipeline",
           "SourceSpec", "Transform", "build_data", "build_evaluator",
           "create_evaluator"]


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name]), name)
        importlib.import_module("hwnas.quantization.transform")  # registers "quantize"
        return value
    raise AttributeError(f"module 'hwnas.evaluation' has no attribute {name!r}")

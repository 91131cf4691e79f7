"""Evaluation as a stored, declarative pipeline: a spec (source, data, measures by key,
preparation, transform) kept with the study, and the one builder that turns it into an
evaluator (``config -> {key: Measurement}``)."""

from hwnas.evaluation.builder import (
    DATA_SOURCES,
    SOURCES,
    build_data,
    build_evaluator,
    create_evaluator,
)
from hwnas.evaluation.pipeline import (
    TRANSFORMS,
    Artifacts,
    CallableEvaluator,
    LookupEvaluator,
    Pipeline,
    Transform,
)
from hwnas.evaluation.spec import DataSpec, EvaluatorSpec, MeasureSpec, SourceSpec
from hwnas.quantization import transform as _quantize  # noqa: F401, I001 - registers "quantize"

__all__ = ["DATA_SOURCES", "SOURCES", "TRANSFORMS", "Artifacts", "CallableEvaluator",
           "DataSpec", "EvaluatorSpec", "LookupEvaluator", "MeasureSpec", "Pipeline",
           "SourceSpec", "Transform", "build_data", "build_evaluator",
           "create_evaluator"]

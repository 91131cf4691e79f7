"""Surrogate models that predict one objective of a sub-network from its encoded config.

Predictors are ordinary scikit-learn regressors over a float matrix ``X`` (one row per
encoded config) and a vector ``y`` (one measured value per row). Built-ins are registered
by name in :data:`PREDICTORS`; :class:`AutoPredictor` cross-validates several of them and
keeps the one that ranks unseen sub-networks best. Over a search space, a predictor is a
pipeline :class:`SpaceEncoder` (value indices -> typed features: one-hot categorical
dimensions, an inactive indicator per conditional one) -> model (:func:`space_predictor`),
and ``AutoPredictor(space=..., encodings=...)`` cross-validates the encoding too.

>>> import numpy as np
>>> from hwnas.predictors import PREDICTORS, prediction_quality
>>> X = np.linspace(0.0, 1.0, 30).reshape(15, 2)
>>> model = PREDICTORS.create("ridge").fit(X, 5.0 + 3.0 * X[:, 0])
>>> prediction_quality(5.0 + 3.0 * X[:, 0], model.predict(X)).kendall_tau
1.0
"""

from __future__ import annotations

from hwnas.predictors.auto import AutoPredictor
from hwnas.predictors.crossval import MIN_TRAINING_SAMPLES, cross_validated_quality
from hwnas.predictors.encoding import ENCODINGS, SpaceEncoder, space_predictor
from hwnas.predictors.models import PREDICTORS
from hwnas.predictors.quality import PredictorQuality, prediction_quality

__all__ = [
    "ENCODINGS",
    "MIN_TRAINING_SAMPLES",
    "PREDICTORS",
    "AutoPredictor",
    "PredictorQuality",
    "SpaceEncoder",
    "cross_validated_quality",
    "prediction_quality",
    "space_predictor",
]

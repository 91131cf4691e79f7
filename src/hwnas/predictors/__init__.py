"""Surrogate models that predict one objective of a sub-network from its encoded config.

Predictors are ordinary scikit-learn regressors over a float matrix ``X`` (one row per
encoded config) and a vector ``y`` (one measured value per row). Built-ins are registered
by name in :data:`PREDICTORS`; :class:`AutoPredictor` cross-validates several of them and
keeps the one that ranks unseen sub-networks best.

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
from hwnas.predictors.models import PREDICTORS
from hwnas.predictors.quality import PredictorQuality, prediction_quality

__all__ = [
    "MIN_TRAINING_SAMPLES",
    "PREDICTORS",
    "AutoPredictor",
    "PredictorQuality",
    "cross_validated_quality",
    "prediction_quality",
]

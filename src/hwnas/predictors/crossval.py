"""Cross-validated quality of a predictor: out-of-fold predictions scored as a whole."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import clone
from sklearn.model_selection import KFold

from hwnas.errors import InvalidConfigError
from hwnas.predictors.quality import PredictorQuality, prediction_quality
from hwnas.predictors.validation import check_training_data

MIN_TRAINING_SAMPLES = 4
"""Fewest measured sub-networks a predictor is cross-validated on (2 folds of 2)."""


def n_folds(n_samples: int, cv: int) -> int:
    """Folds to use: ``cv``, or fewer so that every held-out fold has at least 2 samples.

    >>> n_folds(200, 5), n_folds(7, 5), n_folds(4, 5)
    (5, 3, 2)
    """
    if isinstance(cv, bool) or not isinstance(cv, Integral) or cv < 2:
        raise InvalidConfigError(f"cv must be an integer >= 2 (the number of folds); got {cv!r}")
    return max(2, min(int(cv), n_samples // 2))


def cross_validated_quality(
    estimator: object,
    X: ArrayLike,
    y: ArrayLike,
    *,
    cv: int = 5,
    random_state: int | None = 0,
) -> PredictorQuality:
    """Quality of ``estimator`` on data it did not see, by shuffled K-fold.

    Each fold is predicted by a clone fitted on the other folds; the out-of-fold
    predictions of all samples are then scored together, so Kendall tau ranks every
    sample against every other (per-fold taus on a few samples would be noisy).
    """
    X, y = check_training_data(X, y, min_samples=MIN_TRAINING_SAMPLES)
    folds = KFold(n_splits=n_folds(len(y), cv), shuffle=True, random_state=random_state)
    return out_of_fold_quality(estimator, X, y, list(folds.split(X)))


def out_of_fold_quality(
    estimator: object,
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> PredictorQuality:
    """Quality of out-of-fold predictions over given (train, test) index splits of checked data."""
    predicted = np.empty_like(y)
    for train, test in splits:
        model = clone(estimator).fit(X[train], y[train])
        predicted[test] = model.predict(X[test])
    return prediction_quality(y, predicted)

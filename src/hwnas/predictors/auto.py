"""AutoPredictor: pick the registered predictor that ranks held-out sub-networks best."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from hwnas.errors import InvalidConfigError
from hwnas.predictors.crossval import MIN_TRAINING_SAMPLES, n_folds, out_of_fold_quality
from hwnas.predictors.models import PREDICTORS
from hwnas.predictors.validation import as_feature_matrix, check_training_data


class AutoPredictor(RegressorMixin, BaseEstimator):
    """Cross-validate every candidate predictor and refit the best one on all the data.

    The best candidate has the highest out-of-fold Kendall tau (ranking is what a
    search needs); a tie goes to the lower MAE, then to the earlier candidate. With few
    samples fewer folds are used, down to 2 folds of 2 samples (4 samples at least).

    Parameters
    ----------
    candidates:
        Names in :data:`~hwnas.predictors.PREDICTORS`, each built with its defaults.
    cv:
        Number of folds (at most; reduced so each held-out fold has 2 samples or more).
    random_state:
        Seed of the fold shuffle.

    Attributes
    ----------
    chosen_: name of the winning candidate.
    estimator_: the winner, refitted on all the data.
    cv_scores_: candidate name -> cross-validated :class:`~hwnas.predictors.PredictorQuality`.
    quality_: the winner's cross-validated quality.
    n_splits_: folds actually used.
    n_features_in_: width of ``X`` seen by ``fit``.

    >>> import numpy as np
    >>> X = np.arange(40.0).reshape(20, 2)
    >>> model = AutoPredictor(candidates=("ridge",)).fit(X, X[:, 0] * 2.0)
    >>> model.chosen_, round(model.quality_.kendall_tau, 2)
    ('ridge', 1.0)
    """

    def __init__(
        self,
        candidates: Sequence[str] = ("ridge", "svr", "gbt"),
        cv: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.candidates = candidates
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> AutoPredictor:
        """Score each candidate by K-fold cross-validation, then refit the best on all data."""
        names = self._candidate_names()
        X, y = check_training_data(X, y, min_samples=MIN_TRAINING_SAMPLES)
        n_splits = n_folds(len(y), self.cv)
        folds = KFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        splits = list(folds.split(X))
        scores = {
            name: out_of_fold_quality(PREDICTORS.create(name), X, y, splits) for name in names
        }
        chosen = min(names, key=lambda n: (-scores[n].kendall_tau, scores[n].mae))
        self.estimator_ = PREDICTORS.create(chosen).fit(X, y)
        self.chosen_ = chosen
        self.cv_scores_ = scores
        self.quality_ = scores[chosen]
        self.n_splits_ = n_splits
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted objective value for each row of ``X``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(
            as_feature_matrix(X, n_features=self.n_features_in_, expected_by=type(self).__name__)
        )

    def _candidate_names(self) -> list[str]:
        if isinstance(self.candidates, str) or not isinstance(self.candidates, Sequence):
            raise InvalidConfigError(
                f"candidates must be a sequence of predictor names such as ('ridge', 'gbt'); "
                f"got {self.candidates!r}"
            )
        names = list(self.candidates)
        if not names or len(set(names)) != len(names):
            raise InvalidConfigError(
                f"candidates must name at least one predictor, each once; got {names!r}. "
                f"Valid names: {', '.join(PREDICTORS.names())}"
            )
        for name in names:
            PREDICTORS.get(name)  # an unknown name raises, listing the valid ones
        return names

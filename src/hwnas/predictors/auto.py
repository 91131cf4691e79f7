"""AutoPredictor: pick the registered predictor that ranks held-out sub-networks best."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from hwnas.errors import InvalidConfigError
from hwnas.predictors.crossval import MIN_TRAINING_SAMPLES, n_folds, out_of_fold_quality
from hwnas.predictors.encoding import ENCODINGS, space_predictor
from hwnas.predictors.models import PREDICTORS
from hwnas.predictors.validation import as_feature_matrix, check_training_data
from hwnas.space import SearchSpace


class AutoPredictor(RegressorMixin, BaseEstimator):
    """Cross-validate every candidate predictor and refit the best one on all the data.

    The best candidate has the highest out-of-fold Kendall tau (ranking is what a
    search needs); a tie goes to the lower MAE, then to the earlier candidate. With few
    samples fewer folds are used, down to 2 folds of 2 samples (4 samples at least).

    Parameters
    ----------
    candidates:
        Names in :data:`~hwnas.predictors.PREDICTORS`, each built with its defaults.
    space:
        When given, ``X`` holds rows of value indices of this space
        (:meth:`SearchSpace.encode`) and every candidate is a pipeline
        :class:`~hwnas.predictors.SpaceEncoder` -> model, once per name in ``encodings``:
        the encoding is cross-validated like the model.
    encodings:
        Keys of :data:`~hwnas.predictors.ENCODINGS` to try (only with ``space``).
    cv:
        Number of folds (at most; reduced so each held-out fold has 2 samples or more).
    random_state:
        Seed of the fold shuffle.

    Attributes
    ----------
    chosen_: name of the winning candidate's model.
    encoding_: the winning encoding (``None`` without ``space``).
    estimator_: the winner, refitted on all the data.
    cv_scores_: candidate label -> cross-validated :class:`~hwnas.predictors.PredictorQuality`;
        the label is the model name, or ``"name|encoding"`` with ``space``.
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
        space: SearchSpace | None = None,
        encodings: Sequence[str] = ("typed",),
    ) -> None:
        self.candidates = candidates
        self.cv = cv
        self.random_state = random_state
        self.space = space
        self.encodings = encodings

    def fit(self, X: ArrayLike, y: ArrayLike) -> AutoPredictor:
        """Score each candidate by K-fold cross-validation, then refit the best on all data."""
        candidates = self._candidates()
        X, y = check_training_data(X, y, min_samples=MIN_TRAINING_SAMPLES)
        n_splits = n_folds(len(y), self.cv)
        folds = KFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        splits = list(folds.split(X))
        scores = {label: out_of_fold_quality(make(), X, y, splits)
                  for label, (make, _, _) in candidates.items()}
        best = min(candidates, key=lambda n: (-scores[n].kendall_tau, scores[n].mae))
        make, self.chosen_, self.encoding_ = candidates[best]
        self.estimator_ = make().fit(X, y)
        self.cv_scores_ = scores
        self.quality_ = scores[best]
        self.n_splits_ = n_splits
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted objective value for each row of ``X``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(
            as_feature_matrix(X, n_features=self.n_features_in_, expected_by=type(self).__name__)
        )

    def _candidates(self) -> dict[str, tuple[Callable[[], Any], str, str | None]]:
        """label -> (factory of an unfitted candidate, model name, encoding)."""
        names = self._candidate_names()
        if self.space is None:
            return {name: (functools.partial(PREDICTORS.create, name), name, None)
                    for name in names}
        if not isinstance(self.space, SearchSpace):
            raise InvalidConfigError(f"space must be a SearchSpace or None, got {self.space!r}")
        encodings = self.encodings
        if isinstance(encodings, str) or not isinstance(encodings, Sequence) or not encodings \
                or len(set(encodings)) != len(encodings):
            raise InvalidConfigError(
                f"encodings must name at least one encoding, each once, such as ('typed',); "
                f"got {encodings!r}. Valid names: {', '.join(ENCODINGS)}"
            )
        return {f"{name}|{encoding}": (functools.partial(space_predictor, self.space, name,
                                                         encoding), name, encoding)
                for encoding in encodings for name in names}

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

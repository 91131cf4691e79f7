"""Input checks shared by the predictors: float arrays, finite values, matching lengths.

Every failure raises :class:`~hwnas.errors.InvalidConfigError` (a ``ValueError``) whose
message quotes the offending shape or value and says what to pass instead.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from sklearn.exceptions import DataConversionWarning

from hwnas.errors import InvalidConfigError


def as_feature_matrix(
    X: ArrayLike, *, n_features: int | None = None, expected_by: str = "the predictor"
) -> np.ndarray:
    """``X`` as a finite 2-D float array (one row per encoded config).

    ``n_features``, when given, is the width the array must have (the width seen by ``fit``
    of ``expected_by``).
    """
    matrix = _as_float_array(X, "X")
    if matrix.ndim != 2:
        raise InvalidConfigError(
            f"X must be 2-D (one row per sub-network, one column per feature); got shape "
            f"{matrix.shape}. Reshape your data with X.reshape(1, -1) if it is one config."
        )
    if n_features is not None and matrix.shape[1] != n_features:
        raise InvalidConfigError(
            f"X has {matrix.shape[1]} features, but {expected_by} is expecting {n_features} "
            "features as input; encode configs with the search space used for fitting."
        )
    _require_finite(matrix, "X")
    return matrix


def as_target_vector(y: ArrayLike, *, name: str = "y") -> np.ndarray:
    """``y`` as a finite 1-D float array; a column vector of shape (n, 1) is flattened (warns)."""
    vector = _as_float_array(y, name)
    if vector.ndim == 2 and vector.shape[1] == 1:
        warnings.warn(
            f"A column-vector y was passed when a 1d array was expected ({name} has shape "
            f"{vector.shape}); pass a 1-D array, e.g. {name}.ravel()",
            DataConversionWarning,
            stacklevel=3,
        )
        vector = vector.ravel()
    if vector.ndim != 1:
        raise InvalidConfigError(
            f"{name} must be 1-D (one value per sub-network); got shape {vector.shape}. "
            "Fit one predictor per objective."
        )
    _require_finite(vector, name)
    return vector


def check_training_data(
    X: ArrayLike, y: ArrayLike | None, *, min_samples: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(X, y)``: finite floats, one target per row, at least ``min_samples`` rows."""
    if y is None:
        raise InvalidConfigError(
            "fitting a predictor requires y to be passed, but the target y is None; "
            "pass the measured objective values, one per row of X"
        )
    matrix = as_feature_matrix(X)
    vector = as_target_vector(y)
    if matrix.shape[0] != vector.shape[0]:
        raise InvalidConfigError(
            f"X has {matrix.shape[0]} rows but y has {vector.shape[0]} values; "
            "pass one target value per encoded config."
        )
    if vector.shape[0] < min_samples:
        raise InvalidConfigError(
            f"got {vector.shape[0]} samples; a predictor needs at least {min_samples}. "
            "Measure more sub-networks before fitting."
        )
    return matrix, vector


def _as_float_array(values: ArrayLike, name: str) -> np.ndarray:
    """A float64 array; a sparse matrix, complex values or non-numeric strings raise."""
    if sparse.issparse(values):
        raise InvalidConfigError(
            f"{name} is a sparse matrix, which predictors do not support; pass {name}.toarray()"
        )
    array = np.asarray(values)
    if np.iscomplexobj(array):
        raise InvalidConfigError(f"Complex data not supported in {name}; pass real-valued features")
    try:
        return array.astype(np.float64, copy=False)
    except ValueError as error:  # a TypeError (e.g. a dict in an object array) propagates
        raise InvalidConfigError(f"{name} must be numeric: {error}") from None


def _require_finite(values: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        index = position[0] if len(position) == 1 else position
        raise InvalidConfigError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf), the first "
            f"{float(values[position])!r} at index {index}; drop or re-measure those sub-networks."
        )

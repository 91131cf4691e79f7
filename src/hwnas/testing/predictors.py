"""Conformance checks every predictor must pass, for use in parametrised tests.

>>> from hwnas.predictors import PREDICTORS
>>> check_predictor(PREDICTORS.create("ridge"))

In a test suite, parametrise over the registry so that registering a predictor enrols it::

    @pytest.mark.parametrize("name", PREDICTORS.names())
    def test_predictor_conforms(name):
        check_predictor(PREDICTORS.create(name))
"""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from hwnas.predictors.quality import prediction_quality


def smooth_problem(
    n_samples: int = 200,
    n_features: int = 6,
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth, mostly monotone function of uniform features in [0, 1]: ``(X, y)``.

    ``y = offset + scale * f(X)`` with ``f`` = linear part + a bump + an interaction, so a
    linear model ranks it fairly and a non-linear one better. ``scale``/``offset`` mimic an
    objective's units (e.g. ``scale=0.05, offset=0.7`` for accuracy, ``5, 20`` for ms).
    """
    if n_features < 6:
        raise ValueError(f"smooth_problem needs n_features >= 6; got {n_features}")
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, size=(n_samples, n_features))
    f = (
        X[:, 0]
        + 0.8 * X[:, 1]
        - 0.6 * X[:, 2]
        + 0.3 * np.sin(np.pi * X[:, 3])
        + 0.4 * X[:, 4] * X[:, 5]
    )
    return X, offset + scale * f


def check_clone(estimator: object, fitted: object) -> None:
    """A clone of a fitted ``estimator`` is unfitted, of the same type, with equal params."""
    cloned = clone(fitted)
    if type(cloned) is not type(estimator):
        raise AssertionError(f"clone changed the type: {type(estimator)} -> {type(cloned)}")
    if _plain_params(cloned) != _plain_params(estimator):
        raise AssertionError(
            f"clone changed the parameters: {_plain_params(estimator)} -> {_plain_params(cloned)}"
        )
    try:
        check_is_fitted(cloned)
    except NotFittedError:
        return
    raise AssertionError(f"a clone of a fitted {type(estimator).__name__} is already fitted")


def check_pickle_round_trip(fitted: object, X: np.ndarray) -> None:
    """A fitted estimator, pickled and loaded, predicts exactly as before."""
    loaded = pickle.loads(pickle.dumps(fitted))
    if not np.array_equal(loaded.predict(X), fitted.predict(X)):
        raise AssertionError(f"{type(fitted).__name__} predicts differently after pickling")


def check_fit_is_deterministic(estimator: object, X: np.ndarray, y: np.ndarray) -> None:
    """Two clones fitted on the same data predict exactly the same values."""
    first = clone(estimator).fit(X, y).predict(X)
    second = clone(estimator).fit(X, y).predict(X)
    if not np.array_equal(first, second):
        raise AssertionError(
            f"fitting {type(estimator).__name__} twice on the same data gave different "
            f"predictions (max difference {np.max(np.abs(first - second)):.3g}); fix its seeds"
        )


def check_predictor(estimator: object, *, min_kendall_tau: float = 0.7) -> None:
    """Run every conformance check on an unfitted scikit-learn regressor.

    It must learn :func:`smooth_problem` (latency-like units) well enough to rank 50
    held-out points with Kendall tau >= ``min_kendall_tau``; it must survive ``clone`` and
    pickling; and fitting it twice must give the same model.
    """
    X, y = smooth_problem(200, scale=5.0, offset=20.0)
    X_train, y_train, X_test, y_test = X[:150], y[:150], X[150:], y[150:]
    fitted = clone(estimator).fit(X_train, y_train)
    predicted = np.asarray(fitted.predict(X_test))
    if predicted.shape != y_test.shape:
        raise AssertionError(f"predict returned shape {predicted.shape}, expected {y_test.shape}")
    tau = prediction_quality(y_test, predicted).kendall_tau
    if tau < min_kendall_tau:
        raise AssertionError(
            f"{type(estimator).__name__} ranks held-out points of a smooth function with "
            f"Kendall tau {tau:.3f} < {min_kendall_tau}"
        )
    check_clone(estimator, fitted)
    check_pickle_round_trip(fitted, X_test)
    check_fit_is_deterministic(estimator, X_train, y_train)


def _plain_params(estimator: object) -> dict[str, object]:
    """Deep params, each nested estimator replaced by its class (its params are listed too)."""
    return {key: _plain(value) for key, value in estimator.get_params(deep=True).items()}


def _plain(value: object) -> object:
    if hasattr(value, "get_params"):
        return type(value)
    if isinstance(value, (list, tuple)):
        return tuple(_plain(item) for item in value)
    return value

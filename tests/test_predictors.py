"""Tests of hwnas.predictors: the registry, AutoPredictor, quality metrics, input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin, clone, is_regressor
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.estimator_checks import check_estimator

from hwnas.errors import HwnasError, InvalidConfigError, UnknownNameError
from hwnas.predictors import (
    PREDICTORS,
    AutoPredictor,
    PredictorQuality,
    cross_validated_quality,
    prediction_quality,
)
from hwnas.testing.predictors import (
    check_fit_is_deterministic,
    check_predictor,
    smooth_problem,
)


@pytest.mark.parametrize("name", PREDICTORS.names())
def test_registered_predictor_conforms(name: str) -> None:
    check_predictor(PREDICTORS.create(name))


def test_auto_predictor_conforms() -> None:
    check_predictor(AutoPredictor())


@pytest.mark.parametrize("name", PREDICTORS.names())
@pytest.mark.parametrize(("scale", "offset"), [(0.05, 0.7), (500.0, 2000.0)])
def test_defaults_work_on_any_target_scale(name: str, scale: float, offset: float) -> None:
    X, y = smooth_problem(200, scale=scale, offset=offset, seed=1)
    model = PREDICTORS.create(name).fit(X[:150], y[:150])
    assert prediction_quality(y[150:], model.predict(X[150:])).kendall_tau > 0.7


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_auto_predictor_passes_scikit_learn_checks() -> None:
    # two fast candidates keep this to ~2 s; the checks exercise the wrapper, not the models
    check_estimator(AutoPredictor(candidates=("ridge", "svr")))


def test_builtin_names() -> None:
    assert {"ridge", "svr", "gbt"} <= set(PREDICTORS.names())


def test_unknown_predictor_name_lists_close_match() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'ridge'"):
        PREDICTORS.create("rigde")


def test_misspelt_option_raises() -> None:
    with pytest.raises(HwnasError, match="alpah"):
        PREDICTORS.create("ridge", alpah=2.0)


def test_auto_predictor_picks_ridge_for_linear_function() -> None:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(120, 21)).astype(float)
    y = 10.0 + X @ rng.normal(size=21)
    model = AutoPredictor().fit(X, y)
    assert model.chosen_ == "ridge"
    assert model.cv_scores_["ridge"].kendall_tau > 0.9
    assert max(model.cv_scores_.values(), key=lambda q: q.kendall_tau) is model.quality_
    assert model.quality_ is model.cv_scores_[model.chosen_]
    assert model.n_splits_ == 5 and model.n_features_in_ == 21
    np.testing.assert_allclose(model.predict(X), model.estimator_.predict(X))


def test_auto_predictor_is_a_regressor_whose_clone_keeps_params() -> None:
    model = AutoPredictor(candidates=("svr", "ridge"), cv=3, random_state=7)
    assert is_regressor(model)
    assert clone(model).get_params() == {
        "candidates": ("svr", "ridge"),
        "cv": 3,
        "random_state": 7,
        "space": None,
        "encodings": ("typed",),
    }


@pytest.mark.parametrize(("n_samples", "folds"), [(4, 2), (5, 2), (7, 3), (12, 5)])
def test_auto_predictor_uses_fewer_folds_with_few_samples(n_samples: int, folds: int) -> None:
    X, y = smooth_problem(n_samples)
    model = AutoPredictor().fit(X, y)
    assert model.n_splits_ == folds
    assert model.quality_.n_samples == n_samples
    assert np.all(np.isfinite(model.predict(X)))


def test_auto_predictor_refuses_too_few_samples() -> None:
    X, y = smooth_problem(3)
    with pytest.raises(InvalidConfigError, match="got 3 samples.*at least 4"):
        AutoPredictor().fit(X, y)


def test_constant_target_has_tau_zero_and_still_fits() -> None:
    X, _ = smooth_problem(20)
    model = AutoPredictor().fit(X, np.full(20, 3.0))
    assert all(q.kendall_tau == 0.0 for q in model.cv_scores_.values())
    np.testing.assert_allclose(model.predict(X), 3.0, atol=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"candidates": "ridge"}, "sequence of predictor names"),
        ({"candidates": ()}, "at least one predictor"),
        ({"candidates": ("ridge", "ridge")}, "each once"),
        ({"cv": 1}, "cv must be an integer >= 2"),
        ({"cv": 2.5}, "cv must be an integer >= 2"),
    ],
)
def test_auto_predictor_rejects_bad_options_at_fit(options: dict, message: str) -> None:
    X, y = smooth_problem(20)
    model = AutoPredictor(**options)  # scikit-learn convention: no checks in __init__
    with pytest.raises(InvalidConfigError, match=message):
        model.fit(X, y)


def test_auto_predictor_unknown_candidate() -> None:
    X, y = smooth_problem(20)
    with pytest.raises(UnknownNameError, match="'svm'.*Valid names"):
        AutoPredictor(candidates=("ridge", "svm")).fit(X, y)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.ones((6, 2)), [1.0, 2.0, np.nan, 4.0, 5.0, 6.0], r"y contains 1 non-finite.*index 2"),
        (np.ones((6, 2)), [1.0, 2.0, 3.0], "X has 6 rows but y has 3 values"),
        ([[1.0, np.inf]] * 6, np.arange(6.0), r"X contains 6 non-finite.*index \(0, 1\)"),
        (np.arange(6.0), np.arange(6.0), "X must be 2-D"),
        (np.ones((6, 2)), np.ones((6, 2)), "y must be 1-D"),
        ([["a", "b"]] * 6, np.arange(6.0), "X must be numeric"),
        (sparse.csr_matrix(np.ones((6, 2))), np.arange(6.0), "sparse matrix.*toarray"),
        (np.ones((6, 2)) * 1j, np.arange(6.0), "Complex data not supported in X"),
        (np.ones((6, 2)), None, "requires y to be passed"),
    ],
)
def test_fit_rejects_bad_data(X: object, y: object, message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message):
        AutoPredictor().fit(X, y)


def test_predict_checks_input_and_fitted_state() -> None:
    X, y = smooth_problem(20)
    with pytest.raises(ValueError, match="not fitted"):
        AutoPredictor().predict(X)
    model = AutoPredictor(candidates=("ridge",)).fit(X, y)
    with pytest.raises(
        InvalidConfigError, match="X has 5 features, but AutoPredictor is expecting 6"
    ):
        model.predict(X[:, :5])
    with pytest.raises(InvalidConfigError, match="non-finite"):
        model.predict(np.full((1, 6), np.nan))
    assert model.predict(X[:1]).shape == (1,)


def test_column_vector_target_warns_and_is_flattened() -> None:
    X, y = smooth_problem(20)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        model = AutoPredictor(candidates=("ridge",)).fit(X, y.reshape(-1, 1))
    assert model.predict(X).shape == (20,)


def test_quality_hand_computed() -> None:
    # pairs: 5 concordant, 1 discordant -> tau 4/6; errors 0, 1, 1, 0
    quality = prediction_quality([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])
    assert quality.kendall_tau == pytest.approx(2.0 / 3.0)
    assert quality.mae == pytest.approx(0.5)
    assert quality.mape == pytest.approx((1.0 / 2.0 + 1.0 / 3.0) / 4.0 * 100.0)
    assert quality.n_samples == 4
    assert quality.to_dict() == {
        "kendall_tau": quality.kendall_tau,
        "mape": quality.mape,
        "mae": 0.5,
        "n_samples": 4,
    }


def test_quality_of_reversed_and_perfect_rankings() -> None:
    assert prediction_quality([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]).kendall_tau == pytest.approx(-1.0)
    perfect = prediction_quality([10.0, 20.0], [10.0, 20.0])
    assert perfect == PredictorQuality(kendall_tau=1.0, mape=0.0, mae=0.0, n_samples=2)


def test_quality_guards_constant_vectors_and_zero_targets() -> None:
    assert prediction_quality([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]).kendall_tau == 0.0
    assert prediction_quality([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]).kendall_tau == 0.0
    assert prediction_quality([7.0], [8.0]).kendall_tau == 0.0
    # the zero target is left out of MAPE (it has no relative error) but not of MAE
    quality = prediction_quality([0.0, 2.0], [1.0, 3.0])
    assert quality.mape == pytest.approx(50.0) and quality.mae == pytest.approx(1.0)
    assert math.isnan(prediction_quality([0.0, 0.0], [1.0, 0.0]).mape)


def test_quality_rejects_bad_input() -> None:
    with pytest.raises(InvalidConfigError, match="equal length; got 2 and 3"):
        prediction_quality([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(InvalidConfigError, match="non-empty"):
        prediction_quality([], [])
    with pytest.raises(InvalidConfigError, match="y_pred contains 1 non-finite"):
        prediction_quality([1.0, 2.0], [1.0, np.nan])


def test_quality_is_frozen() -> None:
    quality = prediction_quality([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(AttributeError):
        quality.mae = 1.0  # type: ignore[misc]


def test_cross_validated_quality_matches_auto_predictor_score() -> None:
    X, y = smooth_problem(60)
    model = AutoPredictor(candidates=("svr",), cv=4, random_state=3).fit(X, y)
    alone = cross_validated_quality(PREDICTORS.create("svr"), X, y, cv=4, random_state=3)
    assert alone == model.quality_


class _UnseededNoise(RegressorMixin, BaseEstimator):
    """A deliberately broken predictor: its predictions change from fit to fit."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _UnseededNoise:
        self.offset_ = np.random.default_rng().normal()
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X[:, 0] + self.offset_


def test_conformance_checks_catch_broken_predictors() -> None:
    X, y = smooth_problem(40)
    with pytest.raises(AssertionError, match="different predictions"):
        check_fit_is_deterministic(_UnseededNoise(), X, y)
    with pytest.raises(AssertionError, match="Kendall tau"):
        check_predictor(DummyRegressor())

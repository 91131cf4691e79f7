"""SpaceEncoder: typed features of value-index rows, as a pipeline step that is cross-validated."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from hwnas.errors import InvalidConfigError, UnknownNameError
from hwnas.predictors import (
    ENCODINGS,
    AutoPredictor,
    SpaceEncoder,
    prediction_quality,
    space_predictor,
)
from hwnas.space import Categorical, Choice, SearchSpace


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace([
        Choice("depth", (1, 2)),
        Categorical("op", ("conv", "skip", 7, None)),
        Choice("width", (8, 16), active_if=("depth", 2)),
        Categorical("block", ("a", "b")),
        Choice("expand", ("low", "high"), active_if=("block", {"b"})),
    ])


def cell_problem(n_edges: int = 6, n_samples: int = 300, seed: int = 0):
    """Edges choosing unordered ops whose effects have no relation to their listed order."""
    ops = ("zero", "conv5", "skip", "conv3", "pool")
    space = SearchSpace([Categorical(f"edge{i}", ops) for i in range(n_edges)])
    rng = np.random.default_rng(seed)
    effect = rng.normal(size=(n_edges, len(ops)))
    X = rng.integers(0, len(ops), size=(n_samples, n_edges))
    y = effect[np.arange(n_edges), X].sum(axis=1)
    return space, X, y


def test_typed_layout_one_hot_categorical_and_inactive_columns(space):
    encoder = SpaceEncoder(space).fit()
    assert encoder.get_feature_names_out().tolist() == [
        "depth", "op=conv", "op=skip", "op=7", "op=None", "width", "block=a", "block=b",
        "expand", "width=inactive", "expand=inactive"]
    rows = np.array([[0, 2, 1, 0, 1], [1, 3, 1, 1, 1]])
    assert encoder.transform(rows).tolist() == [
        [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1],   # width and expand inactive: 0 plus indicator
        [2, 0, 0, 0, 1, 16, 0, 1, 1, 0, 0],  # ordered non-numeric: its index
    ]


def test_onehot_and_ordinal_encodings(space):
    rows = np.array([[1, 1, 0, 0, 0]])
    onehot = SpaceEncoder(space, "onehot").fit().transform(rows)
    assert onehot.shape == (1, 2 + 4 + 2 + 2 + 2 + 2)
    assert onehot[0].tolist() == [0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1]
    ordinal = SpaceEncoder(space, "ordinal").fit().transform(rows)
    assert ordinal[0].tolist() == space.features_from_indices(rows)[0].tolist() == [
        2, 1, 8, 0, 0]


def test_mixed_type_values_do_not_crash(space):
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(30)]
    rows = np.stack([space.encode(c) for c in configs])
    for encoding in ENCODINGS:
        features = SpaceEncoder(space, encoding).fit().transform(rows)
        assert np.isfinite(features).all()
    model = space_predictor(space, "ridge").fit(rows, rng.normal(size=30))
    assert model.predict(rows).shape == (30,)


def test_one_hot_ranks_unordered_ops_where_index_features_cannot():
    space, X, y = cell_problem()
    quality = {}
    for encoding in ("typed", "ordinal"):
        model = space_predictor(space, "ridge", encoding).fit(X[:200], y[:200])
        quality[encoding] = prediction_quality(y[200:], model.predict(X[200:])).kendall_tau
    assert quality["typed"] > 0.9 > 0.5 > quality["ordinal"]


def test_auto_predictor_cross_validates_the_encoding():
    space, X, y = cell_problem()
    model = AutoPredictor(candidates=("ridge",), space=space,
                          encodings=("ordinal", "typed")).fit(X[:200], y[:200])
    assert model.encoding_ == "typed" and model.chosen_ == "ridge"
    assert set(model.cv_scores_) == {"ridge|ordinal", "ridge|typed"}
    assert model.cv_scores_["ridge|typed"].kendall_tau > model.cv_scores_[
        "ridge|ordinal"].kendall_tau
    assert prediction_quality(y[200:], model.predict(X[200:])).kendall_tau > 0.9


def test_encoder_is_a_well_behaved_estimator(space):
    encoder = SpaceEncoder(space, "onehot")
    assert clone(encoder).get_params() == {"space": space, "encoding": "onehot"}
    rows = np.array([[0, 1, 0, 1, 1]])
    fitted = encoder.fit()
    assert np.array_equal(pickle.loads(pickle.dumps(fitted)).transform(rows),
                          fitted.transform(rows))
    pipeline = space_predictor(space, "gbt").fit(np.tile(rows, (5, 1)), np.arange(5.0))
    assert np.array_equal(pickle.loads(pickle.dumps(pipeline)).predict(rows),
                          pipeline.predict(rows))


@pytest.mark.parametrize("rows, message", [
    (np.array([[0, 4, 0, 0, 0]]), "outside 0..3 for dimension 'op'"),
    (np.array([[0, 0, 0]]), "rows of 5 value indices"),
    (np.array([["a"] * 5]), "must be numbers"),
    (np.array([[0.0, np.nan, 0, 0, 0]]), "NaN"),
])
def test_bad_rows_raise(space, rows, message):
    with pytest.raises(InvalidConfigError, match=message):
        SpaceEncoder(space).fit().transform(rows)


def test_bad_options_raise_at_fit(space):
    with pytest.raises(UnknownNameError, match="onehot"):
        SpaceEncoder(space, "one-hot").fit()
    with pytest.raises(InvalidConfigError, match="SearchSpace"):
        SpaceEncoder(None).fit()
    with pytest.raises(UnknownNameError, match="typed"):
        space_predictor(space, "ridge", "type")
    with pytest.raises(InvalidConfigError, match="encodings must name"):
        AutoPredictor(space=space, encodings="typed").fit(np.zeros((8, 5)), np.arange(8.0))

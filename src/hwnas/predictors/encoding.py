"""Features of sub-networks for predictors: a scikit-learn transformer over value indices.

:class:`SpaceEncoder` turns rows of value indices (:meth:`SearchSpace.encode`) into a float
matrix, by one of the :data:`ENCODINGS`:

- ``"typed"`` (the default): an ordered numeric dimension is its value, an ordered
  non-numeric one its value index, a categorical one is one-hot (no invented order);
- ``"onehot"``: every dimension one-hot;
- ``"ordinal"``: every dimension its value (numeric) or index, nothing one-hot (the
  encoding of :meth:`SearchSpace.features`; kept for comparison).

Under ``"typed"`` and ``"onehot"`` a conditional dimension also gets an explicit *inactive*
column (1 where its gene does not count) and its other columns are 0 there, so a model
learns a separate effect for "absent" instead of reading 0 as a tiny width.

A predictor is a pipeline encoder -> model (:func:`space_predictor`), so the encoding is
cross-validated like any other step (``AutoPredictor(space=..., encodings=...)``).

>>> from hwnas.space import Categorical, Choice, SearchSpace
>>> space = SearchSpace([Choice("depth", (1, 2)), Categorical("op", ("conv", "skip", 7)),
...                      Choice("width", (8, 16), active_if=("depth", 2))])
>>> encoder = SpaceEncoder(space).fit([[0, 0, 0]])
>>> encoder.get_feature_names_out().tolist()
['depth', 'op=conv', 'op=skip', 'op=7', 'width', 'width=inactive']
>>> encoder.transform([[0, 2, 1], [1, 1, 1]]).tolist()
[[1.0, 0.0, 0.0, 1.0, 0.0, 1.0], [2.0, 0.0, 1.0, 0.0, 16.0, 0.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from hwnas.errors import InvalidConfigError, UnknownNameError
from hwnas.predictors.models import PREDICTORS
from hwnas.space import SearchSpace

ENCODINGS: dict[str, str] = {
    "typed": "values of ordered dims, one-hot categorical dims, an inactive column each",
    "onehot": "every dim one-hot, an inactive column per conditional dim",
    "ordinal": "every dim its value or index, inactive genes 0 (order-blind)",
}


class SpaceEncoder(TransformerMixin, BaseEstimator):
    """Rows of value indices of ``space`` -> a float feature matrix (see the module doc).

    Parameters
    ----------
    space: the search space the rows are encoded in.
    encoding: a key of :data:`ENCODINGS`.

    Attributes
    ----------
    n_features_in_: number of dimensions.
    feature_names_: one name per output column.
    """

    def __init__(self, space: SearchSpace | None = None, encoding: str = "typed") -> None:
        self.space = space
        self.encoding = encoding

    def fit(self, X: ArrayLike | None = None, y: ArrayLike | None = None) -> SpaceEncoder:
        """Build the column layout (the data is not needed: the space says everything)."""
        if not isinstance(self.space, SearchSpace):
            raise InvalidConfigError(
                f"SpaceEncoder needs a SearchSpace as `space`, got {self.space!r}"
            )
        if self.encoding not in ENCODINGS:
            raise UnknownNameError(
                f"unknown encoding {self.encoding!r}; valid names: {', '.join(ENCODINGS)}"
            )
        space = self.space
        tables, names = [], []
        for dim in space.dims:
            if self.encoding == "onehot" or (self.encoding == "typed" and not dim.ordered):
                tables.append(np.eye(len(dim.values)))
                names += [f"{dim.name}={value}" for value in dim.values]
            else:
                column = (np.array(dim.values, dtype=np.float64) if dim.numeric
                          else np.arange(len(dim.values), dtype=np.float64))
                tables.append(column[:, None])
                names.append(dim.name)
        widths = [t.shape[1] for t in tables]
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        conditional = [i for i, d in enumerate(space.dims) if d.active_if is not None]
        indicators = {}
        if self.encoding != "ordinal":
            for k, i in enumerate(conditional):
                indicators[i] = int(starts[-1]) + k
                names.append(f"{space.dims[i].name}=inactive")
        self._tables, self._starts = tables, starts
        self._indicators = indicators
        self.n_features_in_ = len(space)
        self.feature_names_ = np.array(names, dtype=object)
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """The features of each row of value indices."""
        check_is_fitted(self, "feature_names_")
        indices = _index_matrix(X, self.space)
        out = np.zeros((len(indices), len(self.feature_names_)))
        for column, table in enumerate(self._tables):
            out[:, self._starts[column]:self._starts[column + 1]] = table[indices[:, column]]
        inactive = ~self.space.active_matrix(indices)
        for column in np.flatnonzero(inactive.any(axis=0)):
            rows = inactive[:, column]
            out[rows, self._starts[column]:self._starts[column + 1]] = 0.0
            if column in self._indicators:
                out[rows, self._indicators[column]] = 1.0
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        return self.feature_names_.copy()


def space_predictor(space: SearchSpace, name: str, encoding: str = "typed",
                    options: dict[str, Any] | None = None) -> Pipeline:
    """The registered predictor ``name`` (built with ``options``) behind a
    :class:`SpaceEncoder`: a pipeline fitted on rows of value indices.

    >>> from hwnas.space import Categorical, SearchSpace
    >>> space_predictor(SearchSpace([Categorical("op", ("a", "b"))]), "ridge").steps[0][0]
    'encode'
    """
    if encoding not in ENCODINGS:
        raise UnknownNameError(
            f"unknown encoding {encoding!r}; valid names: {', '.join(ENCODINGS)}"
        )
    return Pipeline([("encode", SpaceEncoder(space, encoding)),
                     ("model", PREDICTORS.create(name, **(options or {})))])


def _index_matrix(X: ArrayLike, space: SearchSpace) -> np.ndarray:
    """``X`` as a (rows, dims) int64 matrix of in-range value indices."""
    matrix = np.asarray(X)
    if matrix.ndim != 2 or matrix.shape[1] != len(space):
        raise InvalidConfigError(
            f"expected rows of {len(space)} value indices (SearchSpace.encode), got shape "
            f"{matrix.shape}"
        )
    if matrix.dtype.kind not in "iuf":
        raise InvalidConfigError(
            f"value indices must be numbers, got dtype {matrix.dtype}; encode configs with "
            "SearchSpace.encode first"
        )
    if matrix.dtype.kind == "f":
        if not np.isfinite(matrix).all():
            raise InvalidConfigError("value indices contain NaN or inf")
        matrix = np.rint(matrix)
    indices = matrix.astype(np.int64)
    bad = (indices < 0) | (indices >= space.cardinalities)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise InvalidConfigError(
            f"value index {indices[row, column]} at row {row} is outside 0.."
            f"{space.cardinalities[column] - 1} for dimension {space.names[column]!r}"
        )
    return indices

"""How good a predictor is: rank agreement (Kendall tau) and error size (MAPE, MAE)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import kendalltau

from hwnas.errors import InvalidConfigError
from hwnas.predictors.validation import as_target_vector


@dataclasses.dataclass(frozen=True)
class PredictorQuality:
    """Agreement of predictions with measured values.

    ``kendall_tau`` (-1..1, higher is better) is what a search cares about: it ranks
    candidates by the prediction. ``mape`` is in percent, over the non-zero targets only
    (NaN when every target is zero); ``mae`` is in the objective's own unit.
    """

    kendall_tau: float
    mape: float
    mae: float
    n_samples: int

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict (for a study's user attributes or a report)."""
        return dataclasses.asdict(self)


def prediction_quality(y_true: ArrayLike, y_pred: ArrayLike) -> PredictorQuality:
    """Kendall tau, MAPE (%) and MAE of ``y_pred`` against ``y_true``.

    A constant vector (or a single sample) has no ranking: its tau is 0.0, not NaN.

    >>> q = prediction_quality([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])
    >>> round(q.kendall_tau, 4), round(q.mape, 4), q.mae, q.n_samples
    (0.6667, 20.8333, 0.5, 4)
    """
    truth = as_target_vector(y_true, name="y_true")
    predicted = as_target_vector(y_pred, name="y_pred")
    if truth.shape != predicted.shape or truth.size == 0:
        raise InvalidConfigError(
            f"y_true and y_pred must be non-empty and of equal length; got {truth.size} and "
            f"{predicted.size} values."
        )
    ranked = truth.size > 1 and np.ptp(truth) > 0.0 and np.ptp(predicted) > 0.0
    tau = float(kendalltau(truth, predicted)[0]) if ranked else 0.0
    errors = np.abs(predicted - truth)
    nonzero = truth != 0.0
    mape = (
        float(np.mean(errors[nonzero] / np.abs(truth[nonzero])) * 100.0)
        if nonzero.any()
        else math.nan
    )
    return PredictorQuality(
        kendall_tau=tau,
        mape=mape,
        mae=float(np.mean(errors)),
        n_samples=int(truth.size),
    )

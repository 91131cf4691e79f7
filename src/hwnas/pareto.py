"""Pareto fronts and hypervolume over objective vectors with mixed directions.

>>> points = [[0.9, 2.0], [0.8, 1.0], [0.7, 1.5]]   # accuracy (max), latency (min)
>>> non_dominated(points, ["maximize", "minimize"]).tolist()
[0, 1]
>>> hypervolume([[1.0, 1.0]], ["maximize", "minimize"], reference=[0.0, 2.0])
1.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting


def to_minimization(points: Sequence[Sequence[float]] | np.ndarray,
                    directions: Sequence[str]) -> np.ndarray:
    """Flip the sign of maximised objectives so that every column is minimised."""
    array = np.asarray(points, dtype=np.float64).reshape(-1, len(directions))
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return array * signs


def non_dominated(points: Sequence[Sequence[float]] | np.ndarray,
                  directions: Sequence[str]) -> np.ndarray:
    """Indices (sorted) of the points no other point dominates."""
    minimized = to_minimization(points, directions)
    if len(minimized) == 0:
        return np.array([], dtype=np.int64)
    front = NonDominatedSorting().do(minimized, only_non_dominated_front=True)
    return np.sort(np.asarray(front, dtype=np.int64))


def hypervolume(points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[str],
                reference: Sequence[float]) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (in the objectives'
    own units and directions: e.g. accuracy 0.0 and latency 10 ms)."""
    from pymoo.indicators.hv import HV

    minimized = to_minimization(points, directions)
    ref = to_minimization([reference], directions)[0]
    inside = minimized[np.all(minimized < ref, axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(HV(ref_point=ref)(inside))

"""The search space as pymoo sees it: one integer variable per dimension (its value index)."""

from __future__ import annotations

import numpy as np
from pymoo.core.problem import Problem

from hwnas.space import Config, SearchSpace


class IndexProblem(Problem):
    """Value-index vectors of ``space``; subclasses that score them implement ``_evaluate``."""

    def __init__(self, space: SearchSpace, n_obj: int) -> None:
        super().__init__(n_var=len(space), n_obj=n_obj, xl=np.zeros(len(space)),
                         xu=space.cardinalities - 1.0, vtype=int)
        self.space = space

    def configs(self, x: np.ndarray) -> list[Config]:
        """Rows of (possibly real-valued) variables, rounded into the space, as configs."""
        vectors = np.clip(np.rint(x), 0, self.xu).astype(np.int64)
        return [self.space.decode(v) for v in vectors]

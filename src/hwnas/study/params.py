"""Genes as Optuna parameters, so optuna-dashboard plots a study by its genes.

Every active gene of a trial's config is stored as an Optuna parameter with a distribution
over the gene's values: an evenly spaced integer dimension (``IntRange``) as
:class:`~optuna.distributions.IntDistribution`, every other one as
:class:`~optuna.distributions.CategoricalDistribution`. Inactive conditional genes are left
out, as Optuna leaves out a parameter a trial never suggested. Slice, parallel-coordinate
and importance plots then work; the config itself stays in the ``proposal`` user attribute.

>>> from hwnas.space import Choice, IntRange, SearchSpace
>>> space = SearchSpace([IntRange("depth", 1, 3), Choice("width", (8, 16, 32, 64))])
>>> params, distributions = GeneParams(space).of({"depth": 2, "width": 16})
>>> params, type(distributions["depth"]).__name__, type(distributions["width"]).__name__
({'depth': 2, 'width': 16}, 'IntDistribution', 'CategoricalDistribution')
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from hwnas.space import Config, SearchSpace


def distribution_of(values: tuple[Any, ...]) -> BaseDistribution:
    """An integer range for evenly spaced ascending ints, else a categorical one."""
    if len(values) > 1 and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        step = values[1] - values[0]
        if step > 0 and all(b - a == step for a, b in zip(values, values[1:])):
            return IntDistribution(values[0], values[-1], step=step)
    return CategoricalDistribution(values)


class GeneParams:
    """The distributions of a space's genes (built once), and a config's parameters."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.distributions = {d.name: distribution_of(d.values) for d in space.dims}

    def of(self, config: Config) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
        """The active genes of ``config`` as ``(params, distributions)``."""
        active = [d.name for d in self.space.dims if self.space.is_active(d, config)]
        return ({name: config[name] for name in active},
                {name: self.distributions[name] for name in active})

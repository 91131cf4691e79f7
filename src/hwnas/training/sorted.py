"""SortedNet's sorted training: nested sub-networks, trained in a fixed order.

The space is cut into ``levels`` nested sub-networks from the smallest to the largest:
level ``k`` takes, in every ordered dimension, the value at the fraction ``k / (levels-1)``
of its values, halves rounded to even (so each level contains the one below it; an
unordered dimension keeps its first value). Each step trains ``n_subnets`` consecutive
levels of the fixed cycle largest -> smallest on the labels (cross-entropy each, gradients
summed into one step).
"""

from __future__ import annotations

import torch

from hwnas.space import Config, SearchSpace
from hwnas.supernets import io
from hwnas.training.base import check_positive
from hwnas.training.loop import TRAINING_METHODS, StepLosses, TrainingMethod, TrainingRun


def nested_configs(space: SearchSpace, levels: int) -> list[Config]:
    """``levels`` nested sub-networks, smallest first (duplicates dropped).

    >>> from hwnas.space import Choice
    >>> space = SearchSpace([Choice("depth", (1, 2, 3)), Choice("width", (4, 8))])
    >>> nested_configs(space, 3)
    [{'depth': 1, 'width': 4}, {'depth': 2, 'width': 4}, {'depth': 3, 'width': 8}]
    """
    configs: list[Config] = []
    for level in range(levels):
        fraction = level / max(1, levels - 1)
        config = space.canonical({
            d.name: d.values[round(fraction * (len(d.values) - 1))] if d.ordered else d.values[0]
            for d in space.dims})
        if not configs or config != configs[-1]:
            configs.append(config)
    return configs


class SortedTraining(TrainingMethod):
    """SortedNet: ``n_subnets`` nested sub-networks per step, in a fixed cyclic order."""

    name = "sorted"

    def __init__(self, levels: int = 8, n_subnets: int = 4) -> None:
        check_positive("sorted training", levels=levels, n_subnets=n_subnets)
        self.levels, self.n_subnets = int(levels), int(n_subnets)
        self.order: list[Config] = []

    def start(self, run: TrainingRun) -> None:
        self.order = list(reversed(nested_configs(run.space, max(2, self.levels))))

    def step(self, run: TrainingRun, inputs: io.Inputs, targets: torch.Tensor) -> StepLosses:
        total = 0.0
        for offset in range(self.n_subnets):
            config = self.order[(run.step * self.n_subnets + offset) % len(self.order)]
            loss = run.label_loss(run.forward(config, inputs), targets)
            loss.backward()
            total += float(loss.detach())
        return StepLosses(total / self.n_subnets, 0.0, self.n_subnets)


@TRAINING_METHODS.register("sorted")
def sorted_training(levels: int = 8, n_subnets: int = 4) -> SortedTraining:
    """SortedNet sorted training: nested sub-networks (smallest to largest in every
    dimension) trained on the labels in a fixed cyclic order."""
    return SortedTraining(levels, n_subnets)

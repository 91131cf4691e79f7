"""Top-1 accuracy of a module over inputs and labels, through the super-network's IO hooks.

>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(3, 2)).eval()
>>> evaluate_accuracy(net, torch.randn(10, 3), torch.zeros(10, dtype=torch.long)) <= 1.0
True
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure.prepare import recalibrate_batchnorm
from hwnas.supernets import io


def evaluate_accuracy(module: nn.Module, x: io.Inputs, y: torch.Tensor,
                      batch_size: int = 512, supernet: Any = None) -> float:
    """The fraction of ``x`` that ``module`` (in eval mode, without gradients) labels ``y``.

    Outputs become class indices by ``supernet``'s ``predictions`` hook (default argmax,
    :func:`hwnas.supernets.io.predictions`). The module's training flag is restored.
    """
    count = io.batch_size_of(x)
    if count == 0 or count != len(y):
        raise InvalidConfigError(
            f"evaluate_accuracy needs as many labels as inputs, at least one; got {count} "
            f"inputs and {len(y)} labels"
        )
    if batch_size < 1:
        raise InvalidConfigError(f"batch_size must be a positive integer, got {batch_size}")
    was_training = module.training
    module.eval()
    correct = 0
    try:
        with torch.no_grad():
            for start in range(0, count, batch_size):
                window = slice(start, start + batch_size)
                outputs = io.forward(module, io.slice_inputs(x, window))
                predicted = io.predictions(supernet, outputs)
                correct += int((predicted == y[window]).sum())
    finally:
        module.train(was_training)
    return correct / count


__all__ = ["evaluate_accuracy", "recalibrate_batchnorm"]

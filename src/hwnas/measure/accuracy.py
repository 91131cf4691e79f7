"""Top-1 accuracy of a module, and batch-norm recalibration of a sub-network.

A sub-network taken from a super-network trained with the sandwich rule carries
batch-norm statistics averaged over many sub-networks; as in Once-for-All, recompute them
on a few training batches before measuring accuracy.

>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
>>> recalibrate_batchnorm(net, [torch.randn(32, 3) for _ in range(4)])
>>> int(net[1].num_batches_tracked), net.training
(4, False)
>>> evaluate_accuracy(net, torch.randn(10, 3), torch.zeros(10, dtype=torch.long)) <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from hwnas.errors import InvalidConfigError


def recalibrate_batchnorm(module: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Recompute the running statistics of every batch norm in ``module`` from ``batches``.

    Each batch norm's statistics are reset and its momentum set to ``None`` (a cumulative
    average over the batches); the inputs are forwarded in training mode without gradients.
    Momenta and the training flag of every submodule are restored afterwards; the weights
    are not changed.
    """
    iterator = iter(batches)
    try:
        first = next(iterator)
    except StopIteration:
        raise InvalidConfigError(
            "recalibrate_batchnorm got no batches; pass at least one batch of inputs "
            "(a few training batches are enough)"
        ) from None
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    modes = {m: m.training for m in module.modules()}
    momenta = {norm: norm.momentum for norm in norms}
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
        module.train()
        with torch.no_grad():
            module(first)
            for batch in iterator:
                module(batch)
    finally:
        for norm, momentum in momenta.items():
            norm.momentum = momentum
        for submodule, training in modes.items():
            submodule.training = training


def evaluate_accuracy(module: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      batch_size: int = 512) -> float:
    """The fraction of ``x`` that ``module`` (in eval mode, without gradients) labels ``y``.

    The module's training flag is restored afterwards.
    """
    if len(x) == 0 or len(x) != len(y):
        raise InvalidConfigError(
            f"evaluate_accuracy needs as many labels as inputs, at least one; got {len(x)} "
            f"inputs and {len(y)} labels"
        )
    if batch_size < 1:
        raise InvalidConfigError(f"batch_size must be a positive integer, got {batch_size}")
    was_training = module.training
    module.eval()
    correct = 0
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                logits = module(x[start:start + batch_size])
                correct += int((logits.argmax(dim=1) == y[start:start + batch_size]).sum())
    finally:
        module.train(was_training)
    return correct / len(x)


__all__ = ["evaluate_accuracy", "recalibrate_batchnorm"]

"""Preparing an extracted sub-network for measuring: batch-norm recalibration.

A sub-network taken from a super-network trained with the sandwich rule carries batch-norm
statistics averaged over many sub-networks; as in Once-for-All, they are recomputed on a
few training batches before anything is measured. This is the one implementation: the
evaluation pipeline, export and training's final report all use :class:`Recalibrate`, so
the exported network is the measured one.

>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
>>> recalibrate_batchnorm(net, [torch.randn(32, 3) for _ in range(4)])
>>> int(net[1].num_batches_tracked), net.training
(4, False)
>>> prepare = Recalibrate(batches=2, batch_size=16)
>>> [tuple(b.shape) for b in prepare.calibration_batches(torch.randn(40, 3))]
[(16, 3), (16, 3)]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.supernets import io
from hwnas.threads import check_threads, current_threads, thread_budget


def recalibrate_batchnorm(module: nn.Module, batches: Iterable[io.Inputs]) -> None:
    """Recompute the running statistics of every batch norm in ``module`` from ``batches``
    (each a tensor, tuple or dict of inputs, see :mod:`hwnas.supernets.io`).

    Each batch norm's statistics are reset, then batch ``k`` (from 0) is forwarded in
    training mode without gradients with momentum ``1 / (k + 1)``: the statistics end as the
    plain average over the batches (as ``momentum=None`` would give, but also for modules
    that pass their norms' momentum to ``F.batch_norm`` themselves). Momenta and the
    training flag of every submodule are restored afterwards; the weights are not changed.
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
        module.train()
        with torch.no_grad():
            for count, batch in enumerate(itertools.chain([first], iterator)):
                for norm in norms:
                    norm.momentum = 1.0 / (count + 1)
                io.forward(module, batch)
    finally:
        for norm, momentum in momenta.items():
            norm.momentum = momentum
        for submodule, training in modes.items():
            submodule.training = training


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@dataclass(frozen=True)
class Recalibrate:
    """Batch-norm recalibration on ``batches`` training batches of ``batch_size`` samples,
    drawn without replacement in an order fixed by ``seed`` (the same for every
    sub-network, so they are compared on equal terms), with ``threads`` torch threads
    (None: the surrounding thread budget, see :mod:`hwnas.threads`)."""

    batches: int = 8
    batch_size: int = 64
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.batches < 1 or self.batch_size < 1:
            raise InvalidConfigError(
                f"batch-norm recalibration needs batches >= 1 and batch_size >= 1; got "
                f"batches={self.batches}, batch_size={self.batch_size}"
            )
        if self.threads is not None:
            check_threads(self.threads, "recalibration threads")

    def settings(self) -> dict[str, Any]:
        settings = asdict(self)
        if self.threads is None:  # the default: specs stored before it stay equal
            del settings["threads"]
        return settings

    def calibration_batches(self, train_x: io.Inputs) -> list[io.Inputs]:
        """The calibration batches taken from the training inputs ``train_x``."""
        count = io.batch_size_of(train_x)
        order = torch.randperm(count, generator=torch.Generator().manual_seed(self.seed))
        return [io.slice_inputs(train_x, order[i * self.batch_size:(i + 1) * self.batch_size])
                for i in range(self.batches) if i * self.batch_size < count]

    def __call__(self, module: nn.Module, train_x: io.Inputs,
                 batches: list[io.Inputs] | None = None) -> nn.Module:
        """Recalibrate ``module`` in place (``batches``: precomputed calibration batches);
        returns it in eval mode."""
        if has_batchnorm(module):
            with thread_budget(self.threads or current_threads()):
                recalibrate_batchnorm(module, batches if batches is not None
                                      else self.calibration_batches(train_x))
        return module.eval()


__all__ = ["Recalibrate", "has_batchnorm", "recalibrate_batchnorm"]

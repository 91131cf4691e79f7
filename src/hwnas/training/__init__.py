"""Super-network training: one loop, several methods chosen by name.

Methods (``TRAINING_METHODS``): ``sandwich`` (BigNAS's sandwich rule with in-place
distillation), ``progressive`` (Once-for-All's progressive shrinking), ``sorted``
(SortedNet), ``instatune`` (InstaTune's fine-tuning step). Optimizers (``OPTIMIZERS``):
``sgd``, ``adamw``.
"""

from __future__ import annotations

from typing import Any

from hwnas.data import DataSplits
from hwnas.supernets.base import Supernet
from hwnas.training.base import (
    DEFAULT_LR,
    OPTIMIZERS,
    TrainReport,
    default_optimizer,
    distillation_loss,
)
from hwnas.training.instatune import InstaTune
from hwnas.training.loop import (
    TRAINING_METHODS,
    StepLosses,
    TrainingMethod,
    TrainingRun,
    run_training,
)
from hwnas.training.progressive import ProgressiveShrinking
from hwnas.training.roles import ROLES, dimension_roles
from hwnas.training.sandwich import Sandwich, train_sandwich
from hwnas.training.sorted import SortedTraining, nested_configs


def train(supernet: Supernet, data: DataSplits, *, method: str | TrainingMethod = "sandwich",
          method_options: dict[str, Any] | None = None, epochs: int = 30,
          batch_size: int = 64, lr: float | None = None, optimizer: str | None = None,
          weight_decay: float = 5e-4, label_smoothing: float = 0.1, seed: int = 0,
          progress: bool = True) -> TrainReport:
    """Train ``supernet`` in place on ``data`` with ``method`` (a name in
    ``TRAINING_METHODS`` with its ``method_options``, or a :class:`TrainingMethod`).

    ``optimizer``: a name in ``OPTIMIZERS`` (default: the super-network's
    ``default_optimizer``, else ``"sgd"``); ``lr``: the peak learning rate of the cosine
    decay (default: the super-network's ``default_lr`` with its default optimizer, else per
    optimizer: SGD 0.1, AdamW 1e-3). Every method runs ``epochs`` passes
    over the training split, one optimizer step per mini-batch, seeded by ``seed``; see
    :func:`train_sandwich` for the rest of the contract.
    """
    trainer = (method if isinstance(method, TrainingMethod)
               else TRAINING_METHODS.create(method, **(method_options or {})))
    return run_training(supernet, data, trainer, epochs=epochs, batch_size=batch_size, lr=lr,
                        optimizer=optimizer, weight_decay=weight_decay,
                        label_smoothing=label_smoothing, seed=seed, progress=progress)


__all__ = ["DEFAULT_LR", "OPTIMIZERS", "ROLES", "TRAINING_METHODS", "InstaTune",
           "ProgressiveShrinking", "Sandwich", "SortedTraining", "StepLosses", "TrainReport",
           "TrainingMethod", "TrainingRun", "default_optimizer", "dimension_roles",
           "distillation_loss", "nested_configs", "run_training", "train", "train_sandwich"]

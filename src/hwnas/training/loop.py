"""The one training loop every method runs, and the registry of training methods.

A method (:class:`TrainingMethod`) says what one optimizer step does on one mini-batch:
which sub-networks it trains and on what loss. The loop owns everything else: shuffled
batches from a seeded torch generator, the optimizer and its cosine learning-rate decay,
progress, and the final measurement of the largest and smallest sub-networks.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from hwnas.data import DataSplits, iterate_batches
from hwnas.errors import InvalidConfigError
from hwnas.measure.prepare import Recalibrate, recalibrate_batchnorm
from hwnas.progress import progress_bar
from hwnas.registry import Registry
from hwnas.space import Config, SearchSpace
from hwnas.supernets import io
from hwnas.supernets.base import Supernet
from hwnas.training.base import (
    OPTIMIZERS,
    TrainReport,
    check_arguments,
    default_lr,
    default_optimizer,
    make_optimizer,
    subnet_accuracies,
)


@dataclass(frozen=True)
class StepLosses:
    """What one step did: its mean label loss, mean distillation loss, and how many
    trainable sub-networks it passed forward and backward."""

    loss: float
    distill: float
    passes: int


@dataclass
class TrainingRun:
    """The state a method's step sees: the super-network, its space, the seeded
    ``rng`` for sampling sub-networks, the optimizer, and the step counters."""

    supernet: Supernet
    module: nn.Module
    space: SearchSpace
    data: DataSplits
    rng: np.random.Generator
    optimizer: torch.optim.Optimizer
    total_steps: int
    label_smoothing: float
    step: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    def forward(self, config: Config, inputs: io.Inputs) -> Any:
        """Activate ``config`` and run the super-network on ``inputs``."""
        self.supernet.activate(config)
        outputs = io.forward(self.module, inputs)
        if self.step == 0 and "classes_checked" not in self.extras:
            logits = io.logits_of(outputs)
            if logits.shape[1] != self.data.num_classes:
                raise InvalidConfigError(
                    f"the super-network has {logits.shape[1]} outputs but data set "
                    f"{self.data.name!r} has {self.data.num_classes} classes; create it with "
                    f"num_classes={self.data.num_classes}"
                )
            self.extras["classes_checked"] = True
        return outputs

    def label_loss(self, outputs: Any, targets: torch.Tensor) -> torch.Tensor:
        """The super-network's training loss on the labels (cross-entropy by default)."""
        return io.loss(self.supernet, outputs, targets, self.label_smoothing)


class TrainingMethod(ABC):
    """One way of training a super-network, as the step it takes on a mini-batch.

    Subclasses set ``name`` and implement :meth:`step` (forward, loss, ``backward``; the
    loop zeroes the gradients before and steps the optimizer after). :meth:`start` runs
    once before the first step.
    """

    name: ClassVar[str]

    def start(self, run: TrainingRun) -> None:
        """Called once before the first step (e.g. to plan phases); nothing by default."""
        return None

    def lr_scale(self, step: int) -> float:
        """A factor on the cosine learning rate at ``step`` (1 by default; progressive
        shrinking fine-tunes its later phases at a lower rate)."""
        return 1.0

    @abstractmethod
    def step(self, run: TrainingRun, inputs: io.Inputs, targets: torch.Tensor) -> StepLosses:
        """Train on one mini-batch: compute losses and call ``backward`` on them."""


TRAINING_METHODS: Registry[TrainingMethod] = Registry("training method")
"""Training methods by name (``hwnas train --method NAME``); a factory takes the method's
own options (``method_options``) as keyword arguments."""


def run_training(supernet: Supernet, data: DataSplits, method: TrainingMethod, *,
                 epochs: int = 30, batch_size: int = 64, lr: float | None = None,
                 optimizer: str | None = None, weight_decay: float = 5e-4,
                 label_smoothing: float = 0.1, seed: int = 0,
                 progress: bool = True) -> TrainReport:
    """Train ``supernet`` in place with ``method``; see :func:`hwnas.training.train`."""
    optimizer_name = optimizer or default_optimizer(supernet)
    OPTIMIZERS.get(optimizer_name)
    peak_lr = lr if lr is not None else default_lr(supernet, optimizer_name, optimizer is None)
    check_arguments(supernet, data, epochs, batch_size, peak_lr, weight_decay,
                    label_smoothing, what=f"{method.name} training")
    module: nn.Module = supernet  # type: ignore[assignment]
    space = supernet.space
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, len(data.train_y) // batch_size)
    total_steps = epochs * steps_per_epoch
    torch_optimizer = make_optimizer(module, optimizer_name, peak_lr, weight_decay)
    run = TrainingRun(supernet, module, space, data, np.random.default_rng(seed),
                      torch_optimizer, total_steps, label_smoothing)
    started = time.perf_counter()
    module.train()
    method.start(run)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        torch_optimizer, lambda step: method.lr_scale(step) * 0.5 * (
            1.0 + math.cos(math.pi * min(step, total_steps) / total_steps)))
    passes = 0
    final_loss = final_distill = float("nan")
    with progress_bar(f"{method.name} training", total=epochs, enabled=progress) as bar:
        for epoch in range(epochs):
            loss_sum = distill_sum = 0.0
            batches = 0
            for xb, yb in iterate_batches(data.train_x, data.train_y, batch_size,
                                          shuffle=True, generator=generator, drop_last=True):
                torch_optimizer.zero_grad(set_to_none=True)
                losses = method.step(run, xb, yb)
                torch_optimizer.step()
                scheduler.step()
                run.step += 1
                batches += 1
                passes += losses.passes
                loss_sum += losses.loss
                distill_sum += losses.distill
            final_loss, final_distill = loss_sum / batches, distill_sum / batches
            bar.update(advance=1, description=f"{method.name} training, epoch {epoch + 1}, "
                                              f"loss {final_loss:.3f} (distill "
                                              f"{final_distill:.3f})")
    seconds = time.perf_counter() - started
    largest, smallest = space.largest(), space.smallest()
    calibration = Recalibrate().calibration_batches(data.train_x)
    val_largest, test_largest = subnet_accuracies(supernet, largest, data, calibration)
    val_smallest, test_smallest = subnet_accuracies(supernet, smallest, data, calibration)
    supernet.activate(largest)
    recalibrate_batchnorm(module, calibration)
    module.eval()
    return TrainReport(epochs=epochs, steps=run.step, seconds=seconds, final_loss=final_loss,
                       final_distill_loss=final_distill, val_accuracy_largest=val_largest,
                       val_accuracy_smallest=val_smallest, test_accuracy_largest=test_largest,
                       test_accuracy_smallest=test_smallest, method=method.name,
                       optimizer=optimizer_name, lr=peak_lr, subnet_passes=passes)

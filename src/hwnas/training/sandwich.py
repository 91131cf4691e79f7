"""Super-network training with BigNAS's sandwich rule and in-place distillation.

Every step trains, on one mini-batch, the largest sub-network on the labels, then the
smallest and ``n_random`` random sub-networks on the largest one's (detached) soft
outputs; the gradients of all of them add up into one optimizer step.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnas.data import DataSplits, iterate_batches
from hwnas.errors import InvalidConfigError
from hwnas.measure.accuracy import evaluate_accuracy
from hwnas.measure.prepare import Recalibrate, recalibrate_batchnorm
from hwnas.progress import progress_bar
from hwnas.space import Config
from hwnas.supernets import io
from hwnas.supernets.base import Supernet


@dataclass(frozen=True)
class TrainReport:
    """What a training run did and how good its extreme sub-networks are.

    Accuracies are measured on the extracted sub-networks after the evaluation pipeline's
    batch-norm recalibration (:class:`hwnas.measure.prepare.Recalibrate`), so they are the
    figures a search of the same split measures. Losses are means over the last epoch:
    cross-entropy of the largest sub-network, and distillation (KL) of the others.
    """

    epochs: int
    steps: int
    seconds: float
    final_loss: float
    final_distill_loss: float
    val_accuracy_largest: float
    val_accuracy_smallest: float
    test_accuracy_largest: float
    test_accuracy_smallest: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
    """KL divergence from the teacher's soft outputs to the student's, times ``T**2``.

    >>> logits = torch.randn(4, 10)
    >>> float(distillation_loss(logits, logits)) == 0.0
    True
    """
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    log_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
    kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2


def _check_arguments(supernet: Supernet, data: DataSplits, epochs: int, batch_size: int,
                     lr: float, weight_decay: float, label_smoothing: float, n_random: int,
                     distill_temperature: float) -> None:
    if not isinstance(supernet, nn.Module):
        raise InvalidConfigError(
            f"train_sandwich needs a super-network that is a torch nn.Module, got "
            f"{type(supernet).__name__}"
        )
    checks = [("epochs", epochs, epochs >= 1), ("batch_size", batch_size, batch_size >= 2),
              ("lr", lr, lr > 0), ("weight_decay", weight_decay, weight_decay >= 0),
              ("label_smoothing", label_smoothing, 0 <= label_smoothing < 1),
              ("n_random", n_random, n_random >= 0),
              ("distill_temperature", distill_temperature, distill_temperature > 0)]
    for name, value, ok in checks:
        if not ok:
            raise InvalidConfigError(f"train_sandwich: {name}={value!r} is out of range; "
                                     "epochs >= 1, batch_size >= 2, lr > 0, weight_decay >= 0, "
                                     "0 <= label_smoothing < 1, n_random >= 0, "
                                     "distill_temperature > 0")
    from hwnas.data import check_input_shape

    check_input_shape(supernet, data)


def _optimizer(supernet: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum; no weight decay on batch-norm parameters and biases."""
    decay = [p for p in supernet.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in supernet.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


def _subnet_accuracies(supernet: Supernet, config: Config, data: DataSplits,
                       calibration: list[torch.Tensor]) -> tuple[float, float]:
    subnet = Recalibrate()(supernet.extract(config), None, calibration)
    test = (evaluate_accuracy(subnet, data.test_x, data.test_y, supernet=supernet)
            if len(data.test_y) else float("nan"))
    return evaluate_accuracy(subnet, data.val_x, data.val_y, supernet=supernet), test


def train_sandwich(supernet: Supernet, data: DataSplits, *, epochs: int = 30,
                   batch_size: int = 64, lr: float = 0.1, weight_decay: float = 5e-4,
                   label_smoothing: float = 0.1, n_random: int = 2,
                   distill_temperature: float = 1.0, seed: int = 0,
                   progress: bool = True) -> TrainReport:
    """Train ``supernet`` in place on ``data`` with the sandwich rule (BigNAS).

    Each step: the largest sub-network learns the labels (cross-entropy with
    ``label_smoothing``); the smallest and ``n_random`` random ones (drawn from
    ``numpy.random.default_rng(seed)``) learn the largest one's soft outputs at
    ``distill_temperature``; their gradients are summed into one SGD step (Nesterov
    momentum 0.9, weight decay on weights but not on batch norm and biases, cosine
    learning-rate decay from ``lr`` to 0 over all steps). An epoch is one pass over the
    training split in shuffled batches (the last, incomplete one dropped), shuffled by a
    torch generator seeded with ``seed``: the same initial weights, seed and thread count
    give the same trained weights. Weight initialisation is the caller's
    (``torch.manual_seed`` before creating the super-network).

    Small networks train much faster on one thread (``torch.set_num_threads(1)``), above
    all on a busy machine; that choice is the caller's.

    The super-network ends in eval mode with the largest sub-network active, its batch-norm
    statistics recalibrated for the largest sub-network. Other sub-networks need their own
    recalibration (:class:`hwnas.measure.prepare.Recalibrate`) before measuring.
    """
    _check_arguments(supernet, data, epochs, batch_size, lr, weight_decay, label_smoothing,
                     n_random, distill_temperature)
    module: nn.Module = supernet  # type: ignore[assignment]
    space = supernet.space
    largest, smallest = space.largest(), space.smallest()
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, len(data.train_y) // batch_size)
    total_steps = epochs * steps_per_epoch
    optimizer = _optimizer(module, lr, weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps)
                                                      / total_steps)))
    started = time.perf_counter()
    module.train()
    step = 0
    final_loss = final_distill = float("nan")
    with progress_bar("sandwich training", total=epochs, enabled=progress) as bar:
        for epoch in range(epochs):
            loss_sum = distill_sum = 0.0
            batches = 0
            for xb, yb in iterate_batches(data.train_x, data.train_y, batch_size,
                                          shuffle=True, generator=generator, drop_last=True):
                optimizer.zero_grad(set_to_none=True)
                supernet.activate(largest)
                outputs = io.forward(module, xb)
                logits = io.logits_of(outputs)
                if step == 0 and logits.shape[1] != data.num_classes:
                    raise InvalidConfigError(
                        f"the super-network has {logits.shape[1]} outputs but data set "
                        f"{data.name!r} has {data.num_classes} classes; create it with "
                        f"num_classes={data.num_classes}"
                    )
                loss = io.loss(supernet, outputs, yb, label_smoothing)
                loss.backward()
                teacher = logits.detach()
                distill = 0.0
                students = [smallest] + [space.sample(rng) for _ in range(n_random)]
                for config in students:
                    supernet.activate(config)
                    student = io.logits_of(io.forward(module, xb))
                    student_loss = distillation_loss(student, teacher, distill_temperature)
                    student_loss.backward()
                    distill += float(student_loss.detach())
                optimizer.step()
                scheduler.step()
                step += 1
                batches += 1
                loss_sum += float(loss.detach())
                distill_sum += distill / max(1, len(students))
            final_loss, final_distill = loss_sum / batches, distill_sum / batches
            bar.update(advance=1, description=f"sandwich training, epoch {epoch + 1}, loss "
                                              f"{final_loss:.3f} (distill {final_distill:.3f})")
    seconds = time.perf_counter() - started
    calibration = Recalibrate().calibration_batches(data.train_x)
    val_largest, test_largest = _subnet_accuracies(supernet, largest, data, calibration)
    val_smallest, test_smallest = _subnet_accuracies(supernet, smallest, data, calibration)
    supernet.activate(largest)
    recalibrate_batchnorm(module, calibration)
    module.eval()
    return TrainReport(epochs=epochs, steps=step, seconds=seconds, final_loss=final_loss,
                       final_distill_loss=final_distill, val_accuracy_largest=val_largest,
                       val_accuracy_smallest=val_smallest, test_accuracy_largest=test_largest,
                       test_accuracy_smallest=test_smallest)

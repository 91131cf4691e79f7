"""Super-network training with BigNAS's sandwich rule and in-place distillation.

Every step trains, on one mini-batch, the largest sub-network on the labels, then the
smallest and ``n_random`` random sub-networks on the largest one's (detached) soft
outputs; the gradients of all of them add up into one optimizer step.
"""

from __future__ import annotations

import torch

from hwnas.data import DataSplits
from hwnas.supernets import io
from hwnas.supernets.base import Supernet
from hwnas.training.base import TrainReport, check_positive, distillation_loss
from hwnas.training.loop import (
    TRAINING_METHODS,
    StepLosses,
    TrainingMethod,
    TrainingRun,
    run_training,
)


class Sandwich(TrainingMethod):
    """BigNAS's sandwich rule: the largest on the labels; the smallest and ``n_random``
    random sub-networks distil from it at ``distill_temperature``."""

    name = "sandwich"

    def __init__(self, n_random: int = 2, distill_temperature: float = 1.0) -> None:
        check_positive("sandwich training", n_random=n_random,
                       distill_temperature=distill_temperature)
        self.n_random, self.distill_temperature = n_random, distill_temperature

    def step(self, run: TrainingRun, inputs: io.Inputs, targets: torch.Tensor) -> StepLosses:
        outputs = run.forward(run.space.largest(), inputs)
        loss = run.label_loss(outputs, targets)
        loss.backward()
        teacher = io.logits_of(outputs).detach()
        distill = 0.0
        students = [run.space.smallest()] + [run.space.sample(run.rng)
                                             for _ in range(self.n_random)]
        for config in students:
            student = io.logits_of(run.forward(config, inputs))
            student_loss = distillation_loss(student, teacher, self.distill_temperature)
            student_loss.backward()
            distill += float(student_loss.detach())
        return StepLosses(float(loss.detach()), distill / max(1, len(students)),
                          1 + len(students))


@TRAINING_METHODS.register("sandwich")
def sandwich(n_random: int = 2, distill_temperature: float = 1.0) -> Sandwich:
    """BigNAS sandwich rule with in-place distillation: largest on labels, smallest and
    n_random random sub-networks distil from it (one optimizer step)."""
    return Sandwich(n_random, distill_temperature)


def train_sandwich(supernet: Supernet, data: DataSplits, *, epochs: int = 30,
                   batch_size: int = 64, lr: float | None = None, weight_decay: float = 5e-4,
                   label_smoothing: float = 0.1, n_random: int = 2,
                   distill_temperature: float = 1.0, optimizer: str | None = None,
                   seed: int = 0, progress: bool = True) -> TrainReport:
    """Train ``supernet`` in place on ``data`` with the sandwich rule (BigNAS).

    Each step: the largest sub-network learns the labels (cross-entropy with
    ``label_smoothing``); the smallest and ``n_random`` random ones (drawn from
    ``numpy.random.default_rng(seed)``) learn the largest one's soft outputs at
    ``distill_temperature``; their gradients are summed into one optimizer step (default:
    the super-network's ``default_optimizer``, else SGD with Nesterov momentum 0.9 and
    peak ``lr`` 0.1; weight decay on weights but not on norms and biases; cosine
    learning-rate decay to 0 over all steps). An epoch is one pass over the training split
    in shuffled batches (the last, incomplete one dropped), shuffled by a torch generator
    seeded with ``seed``: the same initial weights, seed and thread count give the same
    trained weights. Weight initialisation is the caller's (``torch.manual_seed`` before
    creating the super-network).

    Small networks train much faster on one thread (``torch.set_num_threads(1)``), above
    all on a busy machine; that choice is the caller's.

    The super-network ends in eval mode with the largest sub-network active, its batch-norm
    statistics recalibrated for the largest sub-network. Other sub-networks need their own
    recalibration (:class:`hwnas.measure.prepare.Recalibrate`) before measuring.
    """
    method = Sandwich(n_random, distill_temperature)
    return run_training(supernet, data, method, epochs=epochs, batch_size=batch_size, lr=lr,
                        optimizer=optimizer, weight_decay=weight_decay,
                        label_smoothing=label_smoothing, seed=seed, progress=progress)

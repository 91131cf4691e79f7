"""What every training method shares: the report, the distillation loss, the optimizers,
argument checks and the final measurement of the extreme sub-networks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.data import DataSplits
from hwnas.errors import InvalidConfigError
from hwnas.measure.accuracy import evaluate_accuracy
from hwnas.measure.prepare import Recalibrate
from hwnas.registry import Registry
from hwnas.space import Config
from hwnas.supernets.base import Supernet


@dataclass(frozen=True)
class TrainReport:
    """What a training run did and how good its extreme sub-networks are.

    Accuracies are measured on the extracted sub-networks after the evaluation pipeline's
    batch-norm recalibration (:class:`hwnas.measure.prepare.Recalibrate`), so they are the
    figures a search of the same split measures. Losses are means over the last epoch:
    the method's label loss (cross-entropy of the sub-networks trained on labels) and its
    distillation loss (KL of the distilled ones). ``subnet_passes`` counts forward-backward
    passes of trainable sub-networks (a frozen teacher's forward passes are not counted).
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
    method: str = "sandwich"
    optimizer: str = "sgd"
    lr: float = 0.1
    subnet_passes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
    """KL divergence from the teacher's soft outputs to the student's, times ``T**2``
    (Hinton's distillation loss; the teacher is detached).

    >>> logits = torch.randn(4, 10)
    >>> float(distillation_loss(logits, logits)) == 0.0
    True
    """
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    log_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
    kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2


OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry("optimizer")
"""Optimizers by name; each factory takes ``(parameter groups, lr)``."""

#: the peak learning rate each optimizer uses when none is given
DEFAULT_LR = {"sgd": 0.1, "adamw": 1e-3}


@OPTIMIZERS.register("sgd")
def sgd(groups: list[dict[str, Any]], lr: float) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum 0.9 (the CNN families' default; peak lr 0.1)."""
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


@OPTIMIZERS.register("adamw")
def adamw(groups: list[dict[str, Any]], lr: float) -> torch.optim.Optimizer:
    """AdamW, betas (0.9, 0.999) (the transformers' default; peak lr 1e-3)."""
    return torch.optim.AdamW(groups, lr=lr)


def default_optimizer(supernet: Any) -> str:
    """The super-network's ``default_optimizer`` attribute (the transformers say
    ``"adamw"``), else ``"sgd"``."""
    return str(getattr(supernet, "default_optimizer", "sgd"))


def default_lr(supernet: Any, optimizer: str, default_optimizer_used: bool) -> float:
    """The peak learning rate when none is given: the super-network's ``default_lr`` when
    it trains with its default optimizer, else the optimizer's (:data:`DEFAULT_LR`)."""
    own = getattr(supernet, "default_lr", None)
    if default_optimizer_used and own is not None:
        return float(own)
    return DEFAULT_LR.get(optimizer, 0.1)


def make_optimizer(module: nn.Module, name: str, lr: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """``name`` over ``module``'s parameters: weight decay on weights, none on batch-norm
    and layer-norm parameters and biases."""
    decay = [p for p in module.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in module.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return OPTIMIZERS.create(name, groups, lr)


def check_arguments(supernet: Supernet, data: DataSplits, epochs: int, batch_size: int,
                    lr: float, weight_decay: float, label_smoothing: float,
                    what: str = "train_sandwich") -> None:
    if not isinstance(supernet, nn.Module):
        raise InvalidConfigError(
            f"{what} needs a super-network that is a torch nn.Module, got "
            f"{type(supernet).__name__}"
        )
    checks = [("epochs", epochs, epochs >= 1), ("batch_size", batch_size, batch_size >= 2),
              ("lr", lr, lr > 0), ("weight_decay", weight_decay, weight_decay >= 0),
              ("label_smoothing", label_smoothing, 0 <= label_smoothing < 1)]
    for name, value, ok in checks:
        if not ok:
            raise InvalidConfigError(f"{what}: {name}={value!r} is out of range; "
                                     "epochs >= 1, batch_size >= 2, lr > 0, weight_decay >= 0, "
                                     "0 <= label_smoothing < 1")
    from hwnas.data import check_input_shape

    check_input_shape(supernet, data)


def check_positive(what: str, **values: float) -> None:
    """Raise naming the first of ``values`` that is not > 0 (or >= 0 for ``n_random``)."""
    for name, value in values.items():
        ok = value >= 0 if name == "n_random" else value > 0
        if not ok:
            raise InvalidConfigError(f"{what}: {name}={value!r} is out of range; it must be "
                                     f"{'>= 0' if name == 'n_random' else '> 0'}")


def subnet_accuracies(supernet: Supernet, config: Config, data: DataSplits,
                      calibration: list[torch.Tensor]) -> tuple[float, float]:
    """Validation and test accuracy of ``config``'s extracted, recalibrated sub-network."""
    subnet = Recalibrate()(supernet.extract(config), None, calibration)
    test = (evaluate_accuracy(subnet, data.test_x, data.test_y, supernet=supernet)
            if len(data.test_y) else float("nan"))
    return evaluate_accuracy(subnet, data.val_x, data.val_y, supernet=supernet), test

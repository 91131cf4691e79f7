"""InstaTune's step: fine-tune a (pre-trained) model as a super-network.

Each step passes the full network and ``n_random`` random sub-networks over one
mini-batch and takes one optimizer step on

    (CE(sub) + CE(full)) / 2 + T**2 * KL(full/T || sub/T),   T = 5,

i.e. both learn the labels and the sub-network also distils the full network's soft
outputs at temperature ``T`` (the full network's logits are detached in the KL term, as
in-place distillation; with several sub-networks their terms are averaged).
"""

from __future__ import annotations

import torch

from hwnas.errors import InvalidConfigError
from hwnas.supernets import io
from hwnas.training.base import check_positive, distillation_loss
from hwnas.training.loop import TRAINING_METHODS, StepLosses, TrainingMethod, TrainingRun


class InstaTune(TrainingMethod):
    name = "instatune"

    def __init__(self, n_random: int = 1, temperature: float = 5.0) -> None:
        check_positive("instatune training", temperature=temperature)
        if n_random < 1:
            raise InvalidConfigError(f"instatune training: n_random={n_random!r} must be >= 1 "
                                     "(each step trains the full network and n_random others)")
        self.n_random, self.temperature = int(n_random), float(temperature)

    def losses(self, full_outputs: object, sub_outputs: list[object], run: TrainingRun,
               targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The step's loss and its two parts (mean label loss, mean distillation loss)."""
        full_ce = run.label_loss(full_outputs, targets)
        full_logits = io.logits_of(full_outputs)
        sub_ce = torch.stack([run.label_loss(o, targets) for o in sub_outputs]).mean()
        distill = torch.stack([distillation_loss(io.logits_of(o), full_logits, self.temperature)
                               for o in sub_outputs]).mean()
        return (sub_ce + full_ce) / 2 + distill, (sub_ce + full_ce) / 2, distill

    def step(self, run: TrainingRun, inputs: io.Inputs, targets: torch.Tensor) -> StepLosses:
        full = run.forward(run.space.largest(), inputs)
        subs = [run.forward(run.space.sample(run.rng), inputs) for _ in range(self.n_random)]
        loss, label, distill = self.losses(full, subs, run, targets)
        loss.backward()
        return StepLosses(float(label.detach()), float(distill.detach()), 1 + self.n_random)


@TRAINING_METHODS.register("instatune")
def instatune(n_random: int = 1, temperature: float = 5.0) -> InstaTune:
    """InstaTune: (CE(sub) + CE(full))/2 + T^2 KL at T = 5, full and random sub-networks
    in one step (fine-tuning a pre-trained model as a super-network)."""
    return InstaTune(n_random, temperature)

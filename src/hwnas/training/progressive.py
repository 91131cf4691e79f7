"""Once-for-All's progressive shrinking, generic over a super-network's space.

Phases, in order: the largest sub-network alone on the labels; then kernels elastic;
then kernels and depths; then kernels, depths and widths (see
:mod:`hwnas.training.roles` for which dimension is which). In every phase after the
first, each step trains ``n_subnets`` sub-networks sampled from the phase's elastic
dimensions (the others at their largest value) on the labels plus ``kd_ratio`` times the
distillation loss from a frozen copy of the full network taken at the end of the first
phase, at ``later_lr_scale`` times the cosine learning rate (OFA fine-tunes its later
phases at a far lower rate than it trains the full network). Before widths become
elastic, the super-network re-orders its channels by importance (its
``reorder_by_importance()``, when it has one: the built-in families sort the channels of
each elastic width by the L1 norm of their output weights and permute the inputs that
read them to match, which leaves every full-width sub-network's outputs unchanged), and
the optimizer's state is reset. A phase whose role has no dimension is skipped; its share
of the steps goes to the others in proportion.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from hwnas.errors import InvalidConfigError
from hwnas.space import Config
from hwnas.supernets import io
from hwnas.training.base import check_positive, distillation_loss
from hwnas.training.loop import TRAINING_METHODS, StepLosses, TrainingMethod, TrainingRun
from hwnas.training.roles import ROLES, dimension_roles


class ProgressiveShrinking(TrainingMethod):
    """OFA's progressive shrinking; ``phase_fractions`` are the shares of all steps given
    to the phases full, kernel, depth, width."""

    name = "progressive"

    def __init__(self, n_subnets: int = 4, phase_fractions: Sequence[float] = (0.25, 0.15,
                                                                              0.25, 0.35),
                 kd_ratio: float = 1.0, distill_temperature: float = 1.0,
                 reorder: bool = True, later_lr_scale: float = 0.3) -> None:
        check_positive("progressive training", n_subnets=n_subnets,
                       distill_temperature=distill_temperature, later_lr_scale=later_lr_scale)
        self.later_lr_scale = float(later_lr_scale)
        fractions = tuple(float(f) for f in phase_fractions)
        if len(fractions) != 4 or any(f <= 0 for f in fractions):
            raise InvalidConfigError(
                f"progressive training: phase_fractions={list(phase_fractions)!r} needs four "
                "positive shares (full, kernel, depth, width)")
        if kd_ratio < 0:
            raise InvalidConfigError(f"progressive training: kd_ratio={kd_ratio!r} must be >= 0")
        self.n_subnets, self.fractions = int(n_subnets), fractions
        self.kd_ratio, self.distill_temperature = kd_ratio, distill_temperature
        self.reorder = reorder
        self.phases: list[tuple[str, frozenset[str], int]] = []
        self.teacher: torch.nn.Module | None = None
        self.reordered = False

    def start(self, run: TrainingRun) -> None:
        self.roles = dimension_roles(run.supernet)
        present = [role for role in ROLES
                   if any(r == role and len(run.space[n].values) > 1
                          for n, r in self.roles.items())]
        shares = [self.fractions[0]] + [self.fractions[1 + ROLES.index(r)] for r in present]
        total = sum(shares)
        names = ["full"] + present
        bounds, elastic, cumulative = [], frozenset(), 0.0
        for name, share in zip(names, shares):
            cumulative += share / total
            if name != "full":
                elastic = elastic | {name}
            bounds.append((name, elastic, round(cumulative * run.total_steps)))
        self.phases = bounds
        self.teacher, self.reordered = None, False

    def lr_scale(self, step: int) -> float:
        return 1.0 if not self.phases or step < self.phases[0][2] else self.later_lr_scale

    def phase(self, step: int) -> tuple[str, frozenset[str]]:
        """The phase ``step`` falls in: its name and the roles elastic in it."""
        for name, elastic, end in self.phases:
            if step < end:
                return name, elastic
        return self.phases[-1][0], self.phases[-1][1]

    def sample(self, run: TrainingRun, elastic: frozenset[str]) -> Config:
        largest = run.space.largest()
        return {d.name: (d.values[int(run.rng.integers(len(d.values)))]
                         if self.roles[d.name] in elastic else largest[d.name])
                for d in run.space.dims}

    def _enter(self, run: TrainingRun, elastic: frozenset[str]) -> None:
        if self.teacher is None:
            run.supernet.activate(run.space.largest())
            self.teacher = copy.deepcopy(run.module).eval()
            for parameter in self.teacher.parameters():
                parameter.requires_grad_(False)
        reorder = getattr(run.supernet, "reorder_by_importance", None)
        if "width" in elastic and not self.reordered and self.reorder and callable(reorder):
            reorder()
            run.optimizer.state.clear()  # moments of the permuted weights no longer apply
            self.reordered = True

    def step(self, run: TrainingRun, inputs: io.Inputs, targets: torch.Tensor) -> StepLosses:
        name, elastic = self.phase(run.step)
        if name == "full":
            loss = run.label_loss(run.forward(run.space.largest(), inputs), targets)
            loss.backward()
            return StepLosses(float(loss.detach()), 0.0, 1)
        self._enter(run, elastic)
        with torch.no_grad():
            teacher = io.logits_of(io.forward(self.teacher, inputs))
        label_sum = distill_sum = 0.0
        for _ in range(self.n_subnets):
            outputs = run.forward(self.sample(run, elastic), inputs)
            label = run.label_loss(outputs, targets)
            distill = distillation_loss(io.logits_of(outputs), teacher, self.distill_temperature)
            (label + self.kd_ratio * distill).backward()
            label_sum += float(label.detach())
            distill_sum += float(distill.detach())
        return StepLosses(label_sum / self.n_subnets, distill_sum / self.n_subnets,
                          self.n_subnets)


@TRAINING_METHODS.register("progressive")
def progressive(n_subnets: int = 4, phase_fractions: Sequence[float] = (0.25, 0.15, 0.25, 0.35),
                kd_ratio: float = 1.0, distill_temperature: float = 1.0,
                reorder: bool = True, later_lr_scale: float = 0.3) -> ProgressiveShrinking:
    """Once-for-All progressive shrinking: largest first, then elastic kernel, depth and
    width phases distilling from the full network, channels re-ordered by importance."""
    return ProgressiveShrinking(n_subnets, phase_fractions, kd_ratio, distill_temperature,
                                reorder, later_lr_scale)

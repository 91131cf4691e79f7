"""Super-network training: the sandwich rule with in-place distillation (BigNAS)."""

from __future__ import annotations

from hwnas.training.sandwich import TrainReport, distillation_loss, train_sandwich

__all__ = ["TrainReport", "distillation_loss", "train_sandwich"]

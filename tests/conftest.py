"""Tests run tiny models: one torch thread is fastest and never oversubscribes the cores."""

from __future__ import annotations

import optuna
import torch

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)

"""A measured sub-network as the study, strategies and reports see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwnas.space import Config


@dataclass(frozen=True)
class Result:
    """One evaluation: the config, the objective values (in the study's objective order) and
    every recorded metric. ``values`` is ``None`` for a failed evaluation."""

    number: int
    config: Config
    arch_id: str
    values: tuple[float, ...] | None
    metrics: dict[str, float] = field(default_factory=dict)
    spreads: dict[str, float] = field(default_factory=dict)
    batch: int = 0
    error: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.values is not None

    @property
    def screened(self) -> bool:
        """Stopped after its cheap figures broke a constraint (:mod:`hwnas.screening`): not
        fully measured, yet not failed (no values, no error)."""
        return self.values is None and self.error is None

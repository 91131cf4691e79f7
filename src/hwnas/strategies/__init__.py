"""Search strategies behind one ask/tell interface, by registry name."""

from __future__ import annotations

from typing import Any

from hwnas.registry import Registry
from hwnas.strategies.base import HistoryStrategy, Strategy
from hwnas.strategies.linas import LINAS
from hwnas.strategies.nsga2 import NSGA2
from hwnas.strategies.random_search import RandomSearch

STRATEGIES: Registry[Strategy] = Registry("strategy")
STRATEGIES.register("random")(RandomSearch)
STRATEGIES.register("nsga2")(NSGA2)
STRATEGIES.register("linas")(LINAS)


def create_strategy(name: str, options: dict[str, Any] | None = None) -> Strategy:
    """The registered strategy ``name`` built with ``options`` (its constructor's arguments)."""
    return STRATEGIES.create(name, **(options or {}))


__all__ = ["LINAS", "NSGA2", "STRATEGIES", "HistoryStrategy", "RandomSearch", "Strategy",
           "create_strategy"]

"""A user evaluator (no super-network): a closed-form accuracy/cost trade-off.

``space()`` builds the search space; ``evaluate(config)`` returns ``{key: Measurement}``.

>>> sorted(evaluate(space().largest()))
['accuracy', 'cost']
"""

from __future__ import annotations

import math

from hwnas.measure import Measurement
from hwnas.space import Choice, SearchSpace


def space() -> SearchSpace:
    return SearchSpace([Choice("depth", (1, 2, 3)), Choice("width", (8, 16, 32, 64))])


def evaluate(config: dict) -> dict[str, Measurement]:
    cost = config["depth"] * config["width"]
    return {"accuracy": Measurement(1.0 - math.exp(-cost / 40.0)),
            "cost": Measurement(float(cost))}

"""Conformance checks every strategy must pass, on a cheap synthetic problem."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hwnas.results import Result
from hwnas.space import Choice, Config, SearchSpace
from hwnas.strategies import Strategy

DIRECTIONS = ["maximize", "minimize"]


def synthetic_space(stages: int = 3) -> SearchSpace:
    """Stages of depth 1-3 with a width per block: 2 objectives in closed form."""
    dims = []
    for stage in range(stages):
        dims.append(Choice(f"s{stage}.depth", (1, 2, 3)))
        for block in range(3):
            condition = None if block == 0 else (f"s{stage}.depth", block + 1)
            dims.append(Choice(f"s{stage}.b{block}.width", (8, 16, 24, 32), condition))
    return SearchSpace(dims)


def synthetic_objectives(space: SearchSpace, config: Config) -> tuple[float, float]:
    """(a saturating "accuracy", a "cost") that trade off against each other."""
    canonical = space.canonical(config)
    cost = 0.0
    stages = sum(name.endswith(".depth") for name in canonical)
    for stage in range(stages):
        depth = canonical[f"s{stage}.depth"]
        cost += sum(canonical[f"s{stage}.b{b}.width"] * (stage + 1) for b in range(depth))
    accuracy = 1.0 - np.exp(-cost / 150.0)
    return float(accuracy), float(cost)


def run_strategy(make: Callable[[], Strategy], n_evaluations: int, seed: int = 0,
                 space: SearchSpace | None = None, restart_at: int | None = None) -> list[Result]:
    """Drive ``ask``/``tell`` as a study does; ``restart_at`` rebuilds the strategy from the
    history after that many results (as a resumed study does)."""
    space = space or synthetic_space()
    strategy = make()
    strategy.bind(space, DIRECTIONS, seed)
    results: list[Result] = []
    while len(results) < n_evaluations:
        if restart_at is not None and len(results) >= restart_at:
            strategy = make()
            strategy.bind(space, DIRECTIONS, seed)
            strategy.tell(results)
            restart_at = None
        configs = strategy.ask(min(strategy.batch_size, n_evaluations - len(results)))
        if not configs:
            break
        batch = []
        for config in configs:
            space.validate(config)
            batch.append(Result(len(results) + len(batch), config, space.arch_id(config),
                                synthetic_objectives(space, config)))
        results += batch
        strategy.tell(batch)
    return results


def check_strategy(make: Callable[[], Strategy], n_evaluations: int = 60) -> None:
    """Asks stay in the space, no duplicate ids, the same seed gives the same asks, another
    seed gives others, and a restart from the history repeats the sequence."""
    first = run_strategy(make, n_evaluations, seed=1)
    ids = [r.arch_id for r in first]
    assert len(first) == n_evaluations, f"stopped after {len(first)} of {n_evaluations}"
    assert len(set(ids)) == len(ids), "proposed a sub-network twice"
    again = [r.arch_id for r in run_strategy(make, n_evaluations, seed=1)]
    assert again == ids, "the same seed gave different proposals"
    other = [r.arch_id for r in run_strategy(make, n_evaluations, seed=2)]
    assert other != ids, "another seed gave the same proposals"
    resumed = [r.arch_id for r in run_strategy(make, n_evaluations, seed=1,
                                                restart_at=n_evaluations // 2)]
    assert resumed == ids, "a strategy rebuilt from the history proposed differently"

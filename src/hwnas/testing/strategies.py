"""Conformance checks every strategy must pass, on cheap synthetic problems of every kind.

:func:`check_strategy_suite` runs a strategy over ordered, categorical (``(1, 2, 3)``,
``("a", "b", "c")``), mixed-type (``(1, "a")``), conditional (numeric and categorical
parent), network-identity (a ``canonicalize`` hook: dead edges of a tiny cell) and
single-value spaces, with 1, 2 and 3 objectives, some evaluations failing
(told with ``values=None``), a tiny space that it must spend and then stop on cleanly,
and constrained searches (:func:`constrained_case`: a bound on an objective, measured in
full, and on a cheap metric, whose violators come back unmeasured as a study records
them). Every check raises :class:`AssertionError` explicitly (``python -O`` strips bare
``assert``). A strategy class declares cheap options for the suite in ``test_options``
(a class attribute; see :func:`strategy_test_options`).

In a test suite, parametrise over the registry so that registering a strategy enrols it::

    @pytest.mark.parametrize("name", STRATEGIES.names())
    def test_strategy_conforms(name):
        check_strategy_suite(name)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hwnas.constraints import Constraint, total_violation
from hwnas.results import Result
from hwnas.space import Categorical, Choice, Config, SearchSpace
from hwnas.strategies import STRATEGIES, Strategy, create_strategy
from hwnas.strategies.base import bind_strategy

Metrics = Callable[[SearchSpace, Config], dict[str, float]]

DIRECTIONS = ["maximize", "minimize"]
OBJECTIVE_DIRECTIONS: dict[int, list[str]] = {
    1: ["minimize"], 2: ["maximize", "minimize"], 3: ["maximize", "minimize", "minimize"]}


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


def conformance_spaces() -> dict[str, SearchSpace]:
    """Small spaces of every kind of dimension the strategies must handle."""
    ops = ("conv", "pool", "skip")
    return {
        "ordered": SearchSpace([Choice(f"w{i}", (8, 16, 24, 32)) for i in range(4)]
                               + [Choice("kernel", (3, 5, 7))]),
        "categorical": SearchSpace([Categorical("ints", (1, 2, 3)),
                                    Categorical("strs", ("a", "b", "c"))]
                                   + [Categorical(f"edge{i}", ops) for i in range(4)]),
        "mixed": SearchSpace([Categorical("mixed", (1, "a")), Categorical("odd", (None, 2.5, True))]
                             + [Categorical(f"m{i}", (0, "x", 1.5)) for i in range(3)]
                             + [Choice("w", (4, 8))]),
        "conditional_numeric": synthetic_space(stages=2),
        "conditional_categorical": SearchSpace(
            [dim for block in range(3) for dim in (
                Categorical(f"b{block}.type", ("conv", "mbconv", "skip")),
                Choice(f"b{block}.width", (8, 16, 32), active_if=(f"b{block}.type",
                                                                  {"conv", "mbconv"})),
                Choice(f"b{block}.expand", (2, 4, 6), active_if=(f"b{block}.type", {"mbconv"})),
            )]),
        "single_value": SearchSpace([Choice("fixed", (16,)), Categorical("only", ("relu",))]
                                    + [Choice(f"w{i}", (8, 16, 32)) for i in range(3)]
                                    + [Categorical("op", ops)]),
        "network_hook": tiny_cell_space(),
    }


def tiny_cell_space() -> SearchSpace:
    """A space whose ``canonicalize`` hook (:func:`tiny_cell_canonical`) says which configs
    are one network: a path ``0 -> 1 -> 2`` is dead unless both of its edges carry an op,
    so 3 x 3 x 3 edge configs are 3 x 5 networks (times a width and an activation: 90)."""
    ops = ("zero", "conv", "pool")
    return SearchSpace([Categorical("edge0_1", ops), Categorical("edge1_2", ops),
                        Categorical("edge0_2", ops), Choice("width", (8, 16, 32)),
                        Categorical("act", ("relu", "gelu"))],
                       canonicalize=tiny_cell_canonical)


def tiny_cell_canonical(config: Config) -> Config:
    """:func:`tiny_cell_space`'s hook: a dead path's two edges both ``zero``."""
    if "zero" in (config["edge0_1"], config["edge1_2"]):
        return {**config, "edge0_1": "zero", "edge1_2": "zero"}
    return dict(config)


def spent_space() -> SearchSpace:
    """A space of 6 sub-networks (a conditional gene included), for exhaustion checks."""
    return SearchSpace([Choice("depth", (1, 2)), Categorical("op", ("a", "b")),
                        Choice("width", (8, 16), active_if=("depth", 2)),
                        Categorical("act", ("relu",))])  # 2 ops x (1 + 2 widths)


def generic_objectives(space: SearchSpace, config: Config, n_objectives: int = 2,
                       fail_fraction: float = 0.0) -> tuple[float, ...] | None:
    """Deterministic objectives for any space: smooth-ish functions of each gene's value
    index (order-blind random effects per value), trading off; ``None`` (a failed
    evaluation) for about ``fail_fraction`` of the sub-networks, chosen by their id."""
    arch_id = space.arch_id(config)
    if fail_fraction > 0 and int(arch_id[:8], 16) / 0xFFFFFFFF < fail_fraction:
        return None
    rows = space.canonical_indices(space.encode(config)[None, :])
    active = space.active_matrix(rows)[0]
    size = 0.0
    effects = np.zeros(3)
    for column, (dim, index) in enumerate(zip(space.dims, rows[0])):
        if not active[column]:
            continue
        digest = hashlib.sha1(f"{dim.name}={index}".encode()).digest()
        effects += np.frombuffer(digest[:3], dtype=np.uint8) / 255.0
        size += (index + 1) / len(dim.values)
    quality = 1.0 - np.exp(-(size + 0.5 * effects[0]) / 3.0)
    cost = size + 0.3 * effects[1]
    memory = (size - 1.0) ** 2 + 0.3 * effects[2]
    return tuple(float(v) for v in (quality, cost, memory)[:n_objectives]) if n_objectives > 1 \
        else (float(cost - 2.0 * quality),)


def cheap_size(space: SearchSpace, config: Config) -> dict[str, float]:
    """A "cheap" metric of any config (as parameters are): the summed relative value index
    of its active genes, known before the expensive objectives are measured."""
    rows = space.canonical_indices(space.encode(config)[None, :])
    active = space.active_matrix(rows)[0]
    size = sum((index + 1) / len(dim.values)
               for dim, index, on in zip(space.dims, rows[0], active) if on)
    return {"size": float(size)}


def constrained_case(space: SearchSpace, n_objectives: int, feasible: float = 0.4,
                     seed: int = 0) -> list[Constraint]:
    """Constraints leaving about ``feasible`` of ``space`` feasible: a bound on the last
    objective (key ``f{n-1}``, measured in full) and on the cheap ``size``
    (:func:`cheap_size`), each at the quantile that keeps ``sqrt(feasible)`` of a sample."""
    rng = np.random.default_rng(seed)
    configs = [space.sample(rng) for _ in range(200)]
    keep = float(np.sqrt(feasible))
    last = np.array([generic_objectives(space, c, n_objectives)[-1] for c in configs])
    size = np.array([cheap_size(space, c)["size"] for c in configs])
    direction = OBJECTIVE_DIRECTIONS[n_objectives][-1]
    objective_bound = (float(np.quantile(last, keep)) if direction == "minimize"
                       else float(np.quantile(last, 1.0 - keep)))
    return [Constraint(f"f{n_objectives - 1}", "<=" if direction == "minimize" else ">=",
                       objective_bound),
            Constraint("size", "<=", float(np.quantile(size, keep)))]


def strategy_test_options(name: str) -> dict[str, Any]:
    """The cheap options the registered strategy ``name`` declares for conformance tests
    (its ``test_options`` class attribute; ``{}`` if it declares none)."""
    return dict(getattr(STRATEGIES.get(name), "test_options", {}) or {})


def run_strategy(make: Callable[[], Strategy], n_evaluations: int, seed: int = 0,
                 space: SearchSpace | None = None, restart_at: int | None = None,
                 evaluate: Callable[[SearchSpace, Config], Sequence[float] | None] | None = None,
                 directions: Sequence[str] | None = None, max_asks: int = 1000,
                 constraints: Sequence[Constraint] = (),
                 cheap: Metrics | None = None) -> list[Result]:
    """Drive ``ask``/``tell`` as a study does; ``restart_at`` rebuilds the strategy from the
    history after that many results (as a resumed study does). ``evaluate`` returns the
    objective values or ``None`` for a failure (default :func:`synthetic_objectives`).
    Stops early when an ask returns nothing (a spent space).

    Under ``constraints``, every result's metrics hold the objectives as ``f0, f1, ..``
    and the ``cheap`` metrics (a function of the config); a config whose cheap metrics
    break a constraint is not evaluated, and comes back as a study records it: no values,
    no error, only the cheap metrics."""
    space = space or synthetic_space()
    evaluate = evaluate or synthetic_objectives
    directions = list(directions or DIRECTIONS)
    strategy = bind_strategy(make(), space, directions, seed, constraints)
    results: list[Result] = []
    for _ in range(max_asks):
        if len(results) >= n_evaluations:
            break
        if restart_at is not None and len(results) >= restart_at:
            strategy = bind_strategy(make(), space, directions, seed, constraints)
            strategy.tell(results)
            restart_at = None
        n = min(strategy.batch_size, n_evaluations - len(results))
        configs = strategy.ask(n)
        if not configs:
            break
        if len(configs) > n:
            raise AssertionError(f"asked for {n} configs, got {len(configs)}")
        batch = []
        for config in configs:
            try:
                space.validate(config)
            except Exception as error:
                raise AssertionError(f"proposed a config outside the space: {error}") from None
            number, arch_id = len(results) + len(batch), space.arch_id(config)
            metrics = cheap(space, config) if cheap is not None and constraints else {}
            known = [c for c in constraints if c.key in metrics]
            if total_violation(known, metrics) > 0.0:
                batch.append(Result(number, dict(config), arch_id, None, metrics))
                continue
            values = evaluate(space, config)
            if values is not None and len(values) != len(directions):
                raise AssertionError("the evaluator returned the wrong number of objectives")
            if values is not None and constraints:
                metrics.update({f"f{i}": float(v) for i, v in enumerate(values)})
            batch.append(Result(number, dict(config), arch_id,
                                None if values is None else tuple(values), metrics,
                                error=None if values is not None else "failed (synthetic)"))
        results += batch
        strategy.tell(batch)
    return results


def check_strategy(make: Callable[[], Strategy], n_evaluations: int = 60,
                   space: SearchSpace | None = None, n_objectives: int = 2,
                   fail_fraction: float = 0.0, constrained: bool = False) -> None:
    """Asks stay in the space, no duplicate ids, the same seed gives the same asks, another
    seed gives others, and a restart from the history repeats the sequence; ``constrained``:
    all that under :func:`constrained_case` (cheap violators told unmeasured)."""
    if constrained and space is None:
        space = conformance_spaces()["ordered"]
    if space is None:
        space, evaluate = synthetic_space(), synthetic_objectives
        directions = DIRECTIONS
    else:
        directions = OBJECTIVE_DIRECTIONS[n_objectives]

        def evaluate(s: SearchSpace, c: Config) -> tuple[float, ...] | None:
            return generic_objectives(s, c, n_objectives, fail_fraction)
    n_evaluations = min(n_evaluations, space.size())
    options: dict[str, Any] = {"space": space, "evaluate": evaluate, "directions": directions}
    if constrained:
        options.update(constraints=constrained_case(space, n_objectives), cheap=cheap_size)
    first = run_strategy(make, n_evaluations, seed=1, **options)
    ids = [r.arch_id for r in first]
    if len(first) != n_evaluations:
        raise AssertionError(f"stopped after {len(first)} of {n_evaluations} evaluations")
    if len(set(ids)) != len(ids):
        raise AssertionError("proposed a sub-network twice")
    if any(space.canonical(r.config) != r.config for r in first):
        raise AssertionError("proposed a config that is not canonical (inactive genes set)")
    if constrained:
        strategy = bind_strategy(make(), space, directions, 1, options["constraints"])
        if tuple(strategy.constraints) != tuple(options["constraints"]):
            raise AssertionError("the strategy does not keep the constraints it was given")
    again = [r.arch_id for r in run_strategy(make, n_evaluations, seed=1, **options)]
    if again != ids:
        raise AssertionError("the same seed gave different proposals")
    if space.size() > 4 * n_evaluations:
        other = [r.arch_id for r in run_strategy(make, n_evaluations, seed=2, **options)]
        if other == ids:
            raise AssertionError("another seed gave the same proposals")
    resumed = [r.arch_id for r in run_strategy(make, n_evaluations, seed=1,
                                                restart_at=n_evaluations // 2, **options)]
    if resumed != ids:
        raise AssertionError("a strategy rebuilt from the history proposed differently")


def check_spends_space(make: Callable[[], Strategy], space: SearchSpace | None = None) -> None:
    """On a tiny space the strategy proposes every sub-network once, then returns nothing."""
    space = space or spent_space()
    results = run_strategy(make, 10 * space.size(), space=space, directions=["minimize"],
                           evaluate=lambda s, c: generic_objectives(s, c, 1),
                           max_asks=10 * space.size() + 10)
    ids = [r.arch_id for r in results]
    if len(set(ids)) != len(ids):
        raise AssertionError("proposed a sub-network twice while spending a tiny space")
    if len(ids) != space.size():
        raise AssertionError(f"proposed {len(ids)} of the {space.size()} sub-networks of a "
                             "tiny space before stopping")
    strategy = make()
    strategy.bind(space, ["minimize"], 0)
    strategy.tell(results)
    if strategy.ask(3):
        raise AssertionError("a spent space still got proposals")


def check_strategy_suite(name: str, n_evaluations: int = 24) -> None:
    """Every conformance check on the registered strategy ``name`` with its test options."""
    options = strategy_test_options(name)

    def make() -> Strategy:
        return create_strategy(name, options)

    check_strategy(make, n_evaluations=n_evaluations)
    for index, space in enumerate(conformance_spaces().values()):
        n_objectives = 1 + index % 3
        check_strategy(make, n_evaluations, space=space, n_objectives=n_objectives,
                       fail_fraction=0.2)
    for n_objectives in (1, 3):
        check_strategy(make, n_evaluations, space=conformance_spaces()["categorical"],
                       n_objectives=n_objectives)
    check_spends_space(make)
    single = SearchSpace([Choice("fixed", (1,)), Categorical("only", ("x",))])
    check_spends_space(make, single)
    check_spends_space(make, SearchSpace(tiny_cell_space().dims[:3],
                                         canonicalize=tiny_cell_canonical))
    for index, space in enumerate(conformance_spaces().values()):
        if space.size() > 2 * n_evaluations:  # single_value has too few to constrain
            check_strategy(make, n_evaluations, space=space, n_objectives=1 + index % 3,
                           fail_fraction=0.1, constrained=True)

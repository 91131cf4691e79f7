"""The space of the ``mnist1d_cells`` table (:mod:`hwnas.tabular`), and which of its configs
are one network.

A cell is a small DAG: node 0 is its input, nodes 1..3 each sum their incoming edges, node 3
is its output. Each of the six edges ``i -> j`` (``i < j``) chooses one *unordered*
operation among :data:`OPS`. A node none of whose incoming edges carries a signal is dead;
edges out of a dead node carry nothing, and edges into a node that cannot reach the output
are dropped. Configs that differ only in such edges compute the same network:
:func:`canonical_cell` is the space's ``canonicalize`` hook, so 15,625 configs are 9,445
networks. (The super-network itself is ``benchmarks/tabular/cells.py``.)

>>> space = cells_space()
>>> space.size(), SearchSpace(space.dims).size()
(9445, 15625)
"""

from __future__ import annotations

from hwnas.space import Categorical, Config, SearchSpace

OPS = ("zero", "skip", "conv3", "conv5", "maxpool3")
NODES = 4
EDGES = tuple((i, j) for j in range(1, NODES) for i in range(j))  # (0,1) (0,2) (1,2) ...


def edge_name(source: int, target: int) -> str:
    return f"edge{source}_{target}"


def cells_space() -> SearchSpace:
    """Six edges, five unordered operations each: 5**6 = 15,625 cells, 9,445 distinct
    networks (configs with one :func:`cell_plan` are one network: :func:`canonical_cell`)."""
    return SearchSpace([Categorical(edge_name(i, j), OPS) for i, j in EDGES],
                       canonicalize=canonical_cell)


def canonical_cell(config: Config) -> Config:
    """One config per network: every edge outside :func:`cell_plan` set to ``zero`` (the
    plan of the result is the same plan, so this is idempotent).

    >>> dead = {name: "zero" for name in cells_space().names} | {"edge0_1": "conv3"}
    >>> canonical_cell(dead) == {name: "zero" for name in dead}  # node 1 reaches no output
    True
    """
    kept = {edge_name(i, j): op for i, j, op in cell_plan(config)}
    return {edge_name(i, j): kept.get(edge_name(i, j), "zero") for i, j in EDGES}


def cell_plan(config: Config) -> tuple[tuple[int, int, str], ...]:
    """The edges that carry signal to the output, as ``(source, target, op)``; empty when
    the output node is dead. Two configs with the same plan are the same network."""
    live = {0}
    for target in range(1, NODES):
        if any(source in live and config[edge_name(source, target)] != "zero"
               for source in range(target)):
            live.add(target)
    if NODES - 1 not in live:
        return ()
    useful = {NODES - 1}
    for source in range(NODES - 2, -1, -1):
        if any(target in useful and config[edge_name(source, target)] != "zero"
               for target in range(source + 1, NODES)):
            useful.add(source)
    return tuple((i, j, config[edge_name(i, j)]) for i, j in EDGES
                 if i in live and j in useful and config[edge_name(i, j)] != "zero")


__all__ = ["EDGES", "NODES", "OPS", "canonical_cell", "cell_plan", "cells_space", "edge_name"]

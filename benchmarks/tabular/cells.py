"""A cell-based weight-sharing super-network for 1-D signals (benchmark only).

The cell is a small DAG (as NAS-Bench-201's, with different operations): node 0 is the
cell's input, nodes 1..3 each sum their incoming edges, node 3 is the output. Each of the
six edges ``i -> j`` (``i < j``) chooses one *unordered* operation:

- ``zero``: no connection;
- ``skip``: identity;
- ``conv3`` / ``conv5``: ReLU, convolution (kernel 3 or 5, 'same' padding), batch norm;
- ``maxpool3``: max pool, kernel 3, stride 1.

A node none of whose incoming edges carries a signal is *dead*; edges out of a dead node
carry nothing, and edges into a node that cannot reach the output are dropped, so the
extracted network computes exactly what reaches the output (a cell whose output is dead
outputs zeros, and the network a constant). The same cell is stacked in three stages
(channels ``widths``, lengths 40, 20, 10 on mnist1d), joined by fixed reduction blocks
(ReLU, convolution k3 stride 2, batch norm); a stem convolution first, a global average
pool and a linear classifier last. Every edge owns its operations' weights (one set per
edge and operation, shared by every cell that uses it): a one-shot super-network in the
sense of SPOS.

Configs that extract the same network (cells differing only in dead edges) are one
sub-network of the space: its definition, :func:`~hwnas.cell_space.cells_space` with the
``canonicalize`` hook :func:`~hwnas.cell_space.canonical_cell`, is in the package
(:mod:`hwnas.cell_space`, the space of the packaged ``mnist1d_cells`` table), so ids and
duplicate checks see 9,445 networks among the 15,625 configs.

>>> from hwnas.space import SearchSpace
>>> net = CellSupernet()
>>> net.space.size(), SearchSpace(net.space.dims).size()
(9445, 15625)
>>> config = {name: "conv3" for name in net.space.names}
>>> x = torch.randn(2, 1, 40)
>>> net.activate(config)
>>> bool(torch.allclose(net.eval()(x), net.extract(config).eval()(x), atol=1e-6))
True
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

# the build script and the tests import the space's names from here too
from hwnas.cell_space import (  # noqa: F401
    EDGES,
    NODES,
    OPS,
    canonical_cell,
    cell_plan,
    cells_space,
    edge_name,
)
from hwnas.space import Config


def _op(name: str, channels: int) -> nn.Module:
    if name == "skip":
        return nn.Identity()
    if name == "maxpool3":
        return nn.MaxPool1d(3, stride=1, padding=1)
    kernel = {"conv3": 3, "conv5": 5}[name]
    return nn.Sequential(nn.ReLU(), nn.Conv1d(channels, channels, kernel, padding=kernel // 2,
                                              bias=False), nn.BatchNorm1d(channels))


class Cell(nn.Module):
    """One cell running a fixed plan; ``ops[k]`` computes the plan's ``k``-th edge."""

    def __init__(self, plan: Sequence[tuple[int, int, str]], ops: Sequence[nn.Module]) -> None:
        super().__init__()
        self.plan = tuple((source, target) for source, target, _op_name in plan)
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.plan:
            return torch.zeros_like(x)
        nodes: list[torch.Tensor | None] = [x] + [None] * (NODES - 1)
        for (source, target), op in zip(self.plan, self.ops):
            out = op(nodes[source])
            nodes[target] = out if nodes[target] is None else nodes[target] + out
        return nodes[-1]


def _reduction(in_channels: int, out_channels: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv1d(in_channels, out_channels, 3, stride=2,
                                              padding=1, bias=False),
                         nn.BatchNorm1d(out_channels))


class CellNet(nn.Module):
    """A standalone cell network (what :meth:`CellSupernet.extract` returns)."""

    def __init__(self, stem: nn.Module, cells: Sequence[nn.Module],
                 reductions: Sequence[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.stem, self.head = stem, head
        self.cells, self.reductions = nn.ModuleList(cells), nn.ModuleList(reductions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage, cell in enumerate(self.cells):
            if stage:
                x = self.reductions[stage - 1](x)
            x = cell(x)
        return self.head(x)


class CellSupernet(nn.Module):
    """Every edge holds all of its operations; ``activate`` picks one per edge."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 widths: Sequence[int] = (16, 32, 64), input_length: int = 40) -> None:
        super().__init__()
        self.space = cells_space()
        self.input_shape = (in_channels, input_length)
        self.widths = tuple(widths)
        self.stem = nn.Sequential(nn.Conv1d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm1d(widths[0]))
        self.edges = nn.ModuleList(
            nn.ModuleDict({f"{i}_{j}": nn.ModuleDict({op: _op(op, width) for op in OPS
                                                      if op != "zero"})
                           for i, j in EDGES})
            for width in widths)
        self.reductions = nn.ModuleList(_reduction(a, b) for a, b in zip(widths, widths[1:]))
        self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                                  nn.Linear(widths[-1], num_classes))
        self.active_config: Config = {}
        self.activate({name: "conv3" for name in self.space.names})

    def activate(self, config: Config) -> None:
        self.active_config = self.space.canonical(config)
        self._plan = cell_plan(self.active_config)

    def _cells(self, plan: tuple[tuple[int, int, str], ...], copies: bool) -> list[Cell]:
        cells = []
        for stage_edges in self.edges:
            ops = [stage_edges[f"{i}_{j}"][op] for i, j, op in plan]
            cells.append(Cell(plan, [copy.deepcopy(op) for op in ops] if copies else ops))
        return cells

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage, cell in enumerate(self._cells(self._plan, copies=False)):
            if stage:
                x = self.reductions[stage - 1](x)
            x = cell(x)
        return self.head(x)

    def extract(self, config: Config) -> CellNet:
        """A standalone copy of the cell network (its own weights, same outputs)."""
        plan = cell_plan(self.space.canonical(config))
        net = CellNet(copy.deepcopy(self.stem), self._cells(plan, copies=True),
                      copy.deepcopy(self.reductions), copy.deepcopy(self.head))
        return net.train(self.training)

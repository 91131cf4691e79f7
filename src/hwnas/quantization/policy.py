"""Per-layer quantization policy genes, searched with the architecture (SimQ-NAS).

Every quantizable layer of a super-network (each ``Conv1d/2d/3d`` and ``Linear``, whose
weights are constants once exported) gets one categorical gene ``quant.<module path>``
with the values ``fp32`` and ``int8``. The layers are found by running the super-network
(no family needs to list them): a layer that a depth gene removes is active only while that
gene keeps it (a condition on the depth gene), so two configs that differ only in the genes
of removed layers are the same network (the same ``arch_id``).

The genes form one group (``group="quant"``): a starting design draws a policy's share of
INT8 layers from an even spread (all-INT8, mostly INT8, mixed, all-fp32) rather than each
layer on its own, which would make nearly every starting policy about half INT8
(:func:`hwnas.strategies.design.spread_groups`).

>>> from hwnas.supernets import create_supernet
>>> net = create_supernet("tiny_elastic_cnn")
>>> space = policy_space(net)
>>> [d.name for d in space.dims if d.name.startswith(GENE_PREFIX)][:3]
['quant.stem.0', 'quant.stages.0.0.conv', 'quant.stages.0.1.conv']
>>> space["quant.stages.0.1.conv"].active_if
('stage0.depth', 2)
>>> sorted(space.groups) == [GROUP]
True
>>> config = {**net.space.largest(), **{g: "int8" for g in policy_genes(space)}}
>>> describe_policy(space, config)
'6/6 int8'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.space import Categorical, Condition, Config, SearchSpace
from hwnas.supernets import io

GENE_PREFIX = "quant."
GROUP = "quant"
"""The group of the policy genes (:attr:`hwnas.space.SearchSpace.groups`)."""
FP32, INT8 = "fp32", "int8"
PRECISIONS = (FP32, INT8)
QUANTIZABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


@dataclass(frozen=True)
class PolicyLayer:
    """One quantizable layer of a super-network: its gene, its module path in the
    super-network, and when it exists (``None``: always)."""

    gene: str
    module: str
    active_if: Condition | None = None


def gene_name(module_path: str) -> str:
    return f"{GENE_PREFIX}{module_path}"


def is_policy_gene(name: str) -> bool:
    return name.startswith(GENE_PREFIX)


def policy_genes(space: SearchSpace) -> list[str]:
    """The policy genes of a (composed) space, in order."""
    return [name for name in space.names if is_policy_gene(name)]


def split_config(config: Config) -> tuple[Config, dict[str, str]]:
    """``(architecture part, policy part)`` of a composed config."""
    architecture = {k: v for k, v in config.items() if not is_policy_gene(k)}
    policy = {k: v for k, v in config.items() if is_policy_gene(k)}
    return architecture, policy


@contextmanager
def _hooked(model: nn.Module) -> Iterator[list[tuple[str, tuple[int, ...]]]]:
    """Record ``(module path, output shape)`` of every quantizable layer, in call order."""
    calls: list[tuple[str, tuple[int, ...]]] = []
    handles = []
    for path, module in model.named_modules():
        if isinstance(module, QUANTIZABLE):
            def record(_module: nn.Module, _inputs: Any, output: Any, path: str = path) -> None:
                calls.append((path, tuple(output.shape) if hasattr(output, "shape") else ()))
            handles.append(module.register_forward_hook(record))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def layer_calls(model: nn.Module, inputs: io.Inputs) -> list[tuple[str, tuple[int, ...]]]:
    """``(module path, output shape)`` of each quantizable layer ``model`` runs on
    ``inputs``, in order (eval mode, no gradients; the training flag is restored)."""
    was_training = model.training
    model.eval()
    try:
        with _hooked(model) as calls, torch.no_grad():
            io.forward(model, inputs)
    finally:
        model.train(was_training)
    return calls


def supernet_calls(supernet: Any, config: Config) -> list[tuple[str, tuple[int, ...]]]:
    """:func:`layer_calls` of the super-network switched to ``config`` (then switched back)."""
    previous = getattr(supernet, "active_config", None)
    supernet.activate(config)
    try:
        return layer_calls(supernet, io.example_inputs(supernet, 1))
    finally:
        supernet.activate(previous if previous is not None else supernet.space.largest())


PROBE_SAMPLES = 32
"""Random configs (seeded) run besides the one-dimension probes by :func:`policy_layers`: on
a space of unordered choices a layer may run only under a combination of values (a cell
edge's convolution, when a path through that edge reaches the output)."""


def policy_layers(supernet: Any, samples: int = PROBE_SAMPLES) -> list[PolicyLayer]:
    """The quantizable layers of ``supernet`` in call order, each with the condition under
    which it exists. Probes: the largest config, each unconditional dimension's values with
    the others at their largest, and ``samples`` random configs (seed 0). A layer gets a
    condition on a dimension when, over every probe, it runs exactly where that dimension
    takes some of its values (a depth gene removes it); a layer that no one dimension
    explains gets none (its gene then counts even where the layer is absent)."""
    space: SearchSpace = supernet.space
    largest = space.largest()
    rng = np.random.default_rng(0)
    probes = [largest] + [{**largest, d.name: v} for d in space.dims if d.active_if is None
                          for v in d.values] + [space.sample(rng) for _ in range(samples)]
    order: list[str] = []
    called: list[set[str]] = []
    for config in probes:
        calls = [path for path, _ in supernet_calls(supernet, config)]
        order += [path for path in dict.fromkeys(calls) if path not in order]
        called.append(set(calls))
    layers = []
    for path in order:
        runs = [path in paths for paths in called]
        layers.append(PolicyLayer(gene_name(path), path, _explaining(space, probes, runs)))
    return layers


def _explaining(space: SearchSpace, probes: Sequence[Config],
                runs: Sequence[bool]) -> Condition | None:
    """The condition of the first unconditional dimension whose values say, over every
    probe, whether the layer runs (``None`` when it always runs, or no one dimension does)."""
    if all(runs):
        return None
    for dim in space.dims:
        if dim.active_if is not None:
            continue
        present = {config[dim.name] for config, ran in zip(probes, runs) if ran}
        if present and all(ran == (config[dim.name] in present)
                           for config, ran in zip(probes, runs)):
            return _condition(dim, present)
    return None


def _condition(dim: Any, present: set[Any]) -> Condition:
    """A threshold on an ordered numeric dimension when the layer exists from some value on,
    else membership."""
    if dim.ordered and dim.numeric:
        at_least = [v for v in dim.values if v >= min(present)]
        if set(at_least) == present:
            return (dim.name, min(present))
    return (dim.name, frozenset(present))


def policy_space(supernet: Any, layers: Sequence[PolicyLayer] | None = None) -> SearchSpace:
    """The super-network's architecture space followed by one ``fp32``/``int8`` gene per
    quantizable layer (the architecture dimensions, and the architecture space's
    ``canonicalize`` hook, are unchanged: the hook leaves the policy genes as they are)."""
    layers = policy_layers(supernet) if layers is None else layers
    if not layers:
        raise InvalidConfigError(
            f"{type(supernet).__name__} offers no policy dimensions: it runs no Conv or Linear "
            "layer, so there is nothing to quantize per layer; search it without --quantization"
        )
    dims = list(supernet.space.dims)
    dims += [Categorical(layer.gene, PRECISIONS, layer.active_if, GROUP) for layer in layers]
    return SearchSpace(dims, canonicalize=supernet.space.canonicalize)


def active_policy(space: SearchSpace, config: Config) -> dict[str, str]:
    """The policy genes of ``config`` that are active in ``space`` (removed layers' are not)."""
    return {name: config[name] for name in policy_genes(space)
            if name in config and space.is_active(space[name], config)}


def with_default_policy(space: SearchSpace, config: Config, precision: str = INT8) -> Config:
    """``config`` with every policy gene of ``space`` it leaves out set to ``precision``
    (an architecture-only config becomes the fully INT8 sub-network)."""
    if precision not in PRECISIONS:
        raise InvalidConfigError(f"precision {precision!r}: choose one of {list(PRECISIONS)}")
    return {**config, **{gene: precision for gene in policy_genes(space) if gene not in config}}


def refuse_policy(config: Config) -> None:
    """Raise if ``config`` sets policy genes where no quantization is asked for."""
    genes = sorted(name for name in config if is_policy_gene(name))
    if genes:
        raise InvalidConfigError(
            f"the config sets quantization policy genes ({genes[0]!r}, ...: {len(genes)} in "
            "all), but the model is not quantized; pass --quantization (quantization=True) to "
            "export the INT8 ONNX model, or drop the quant.* entries"
        )


def describe_policy(space: SearchSpace, config: Config) -> str | None:
    """``"7/9 int8"``: the active layers kept in INT8 out of all active ones (``None`` for a
    space without policy genes)."""
    if not policy_genes(space):
        return None
    active = active_policy(space, config)
    int8 = sum(1 for value in active.values() if value == INT8)
    return f"{int8}/{len(active)} int8"


__all__ = ["FP32", "GENE_PREFIX", "GROUP", "INT8", "PRECISIONS", "QUANTIZABLE", "PolicyLayer",
           "active_policy", "describe_policy", "gene_name", "is_policy_gene", "layer_calls",
           "policy_genes", "policy_layers", "policy_space", "refuse_policy", "split_config",
           "supernet_calls", "with_default_policy"]

"""From policy genes to ONNX nodes: super-network layer -> extracted layer -> ONNX node(s).

The extracted sub-network runs the same layers in the same order as the super-network
switched to its config, so the two call sequences pair up (their output shapes are checked).
The TorchScript-based ONNX exporter (``dynamo=False``) names each node after the modules
on the path to the one that made it (``/0/Conv``, ``/1/body/body.0/Conv``), names that stay
stable through ``quant_pre_process``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.quantization.policy import PolicyLayer, layer_calls, supernet_calls
from hwnas.space import Config
from hwnas.supernets import io

#: ONNX ops that carry a layer's constant weight (the ones a policy quantizes)
WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def map_modules(supernet: Any, config: Config, module: nn.Module, layers: Sequence[PolicyLayer],
                example_inputs: io.Inputs) -> dict[str, str]:
    """``{gene: module path in the extracted module}`` for every layer the sub-network
    ``config`` has; raises if the two networks' layers do not pair up."""
    ours = supernet_calls(supernet, config)
    theirs = layer_calls(module, io.slice_inputs(example_inputs, slice(0, 1)))
    if len(ours) != len(theirs) or any(a[1] != b[1] for a, b in zip(ours, theirs)):
        raise InvalidConfigError(
            f"cannot map the quantization policy onto this sub-network: the super-network runs "
            f"{len(ours)} Conv/Linear layers, the extracted module {len(theirs)} (or their "
            "shapes differ); its extract() must keep the layers in the order forward runs them"
        )
    genes = {layer.module: layer.gene for layer in layers}
    mapping: dict[str, str] = {}
    for (path, _), (extracted, _) in zip(ours, theirs):
        if path not in genes:
            raise InvalidConfigError(f"layer {path!r} of this sub-network has no policy gene; "
                                     "rebuild the study's space with policy_space(supernet)")
        if mapping.setdefault(genes[path], extracted) != extracted:
            raise InvalidConfigError(f"layer {path!r} is run as two modules of the extracted "
                                     "sub-network; a policy cannot name it")
    return mapping


def scope_prefix(module_path: str) -> str:
    """The name prefix the TorchScript-based exporter gives a module's nodes: one part per
    module on the path, each its name cut to start at its last non-numeric atom
    (``"1.body.0"`` -> ``"/1/body/body.0/"``; torch.onnx ``_unqualified_variable_name``)."""
    atoms = module_path.split(".")
    parts = []
    for end in range(1, len(atoms) + 1):
        path = atoms[:end]
        named = [i for i, atom in enumerate(path) if not atom.isnumeric()]
        parts.append(".".join(path[named[-1]:] if named else path))
    return "/" + "/".join(parts) + "/"


def map_nodes(model: Any, modules: Mapping[str, str]) -> dict[str, list[str]]:
    """``{gene: [weight-carrying node names]}`` in an ONNX ``ModelProto``: the nodes made
    directly by each gene's module; every gene must find at least one."""
    nodes: dict[str, list[str]] = {}
    for gene, path in modules.items():
        prefix = scope_prefix(path)
        nodes[gene] = [node.name for node in model.graph.node if node.op_type in WEIGHT_OPS
                       and node.name.startswith(prefix)
                       and "/" not in node.name[len(prefix):]]
    missing = [gene for gene, found in nodes.items() if not found]
    if missing:
        raise InvalidConfigError(
            f"no ONNX node carries the weights of {missing[0]!r} (module "
            f"{modules[missing[0]]!r}, nodes named {scope_prefix(modules[missing[0]])}...); "
            "the exporter renamed or fused it"
        )
    return nodes


INTEGER_OPS = ("QLinearConv", "QGemm", "QLinearMatMul", "MatMulInteger", "ConvInteger")


def _weights(model: Any) -> tuple[set[str], set[str]]:
    """(nodes with a constant fp32 weight, nodes running in INT8) of an ONNX model."""
    producers = {output: node for node in model.graph.node for output in node.output}
    constants = {init.name for init in model.graph.initializer}
    fp32, int8 = set(), set()
    for node in model.graph.node:
        if node.op_type in INTEGER_OPS:
            int8.add(node.name)
        elif node.op_type in WEIGHT_OPS and len(node.input) > 1:
            producer = producers.get(node.input[1])
            if producer is not None and producer.op_type == "DequantizeLinear":
                int8.add(node.name)
            elif node.input[1] in constants:
                fp32.add(node.name)
    return fp32, int8


def quantized_nodes(model: Any) -> set[str]:
    """Names of the layers running in INT8 in an ONNX model: weight-carrying nodes whose
    weight arrives through a DequantizeLinear (static QDQ), and integer ops (dynamic)."""
    return _weights(model)[1]


def weight_nodes(model: Any) -> set[str]:
    """Names of every layer with a constant weight (fp32 or INT8) of an ONNX model; those
    not in :func:`quantized_nodes` run in fp32."""
    fp32, int8 = _weights(model)
    return fp32 | int8


__all__ = ["WEIGHT_OPS", "map_modules", "map_nodes", "quantized_nodes", "scope_prefix",
           "weight_nodes"]

"""Joint search of the per-layer quantization policy and the architecture (SimQ-NAS),
measured on real INT8 ONNX Runtime models.

- :mod:`~hwnas.quantization.policy`: one ``fp32``/``int8`` gene per quantizable layer,
  conditional on the depth gene that removes the layer (:func:`policy_space`);
- :mod:`~hwnas.quantization.mapping`: gene -> extracted layer -> ONNX node(s);
- :mod:`~hwnas.quantization.ort`: ``quant_pre_process`` + ``quantize_static`` (QDQ, S8S8,
  per-channel) calibrated on a seeded subset of the training split;
- :mod:`~hwnas.quantization.transform`: the ``quantize`` transform of the evaluation
  pipeline; accuracy, latency and size are then measured on the quantized model.

``Study.create(..., transform=QuantizeTransform())`` (or ``run_search(...,
quantization=True)``, ``hwnas search --quantization``) searches both together.
"""

from hwnas.quantization.mapping import map_modules, map_nodes, quantized_nodes, weight_nodes
from hwnas.quantization.policy import (
    FP32,
    GENE_PREFIX,
    INT8,
    PRECISIONS,
    PolicyLayer,
    active_policy,
    describe_policy,
    is_policy_gene,
    policy_genes,
    policy_layers,
    policy_space,
    split_config,
)
from hwnas.quantization.transform import QuantizeTransform

#: what a quantized study measures unless told otherwise: all on the quantized ONNX model
QUANTIZED_OBJECTIVES = ("accuracy:accuracy:backend=onnxruntime",
                        "latency:latency:backend=onnxruntime")
QUANTIZED_METRICS = ("onnx_size", "int8_layers")

__all__ = ["FP32", "GENE_PREFIX", "INT8", "PRECISIONS", "QUANTIZED_METRICS",
           "QUANTIZED_OBJECTIVES", "PolicyLayer", "QuantizeTransform", "active_policy",
           "describe_policy", "is_policy_gene", "map_modules", "map_nodes", "policy_genes",
           "policy_layers", "policy_space", "quantized_nodes", "split_config", "weight_nodes"]

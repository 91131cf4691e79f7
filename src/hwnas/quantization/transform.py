"""The ``quantize`` transform: the prepared sub-network -> its INT8 ONNX model, per policy.

For a config of the composed space (architecture + ``quant.*`` genes): export the
prepared sub-network to ONNX (stable per-layer node names), ``quant_pre_process``, then
``quantize_static`` QDQ (CNNs) or ``quantize_dynamic`` on the MatMuls (transformers) with
the nodes of every ``fp32`` layer excluded. What the measures
then see is the quantized ONNX bytes and an ONNX Runtime session over them, nothing else:
a measure of the fp32 torch module is refused when the study is built. A policy of all
``fp32`` gives the pre-processed fp32 ONNX model, measured the same way.

Results are cached per sub-network and policy, so one evaluation quantizes once.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from torch import nn

from hwnas.errors import EvaluationError, HwnasError, InvalidConfigError, require
from hwnas.evaluation.pipeline import TRANSFORMS, Artifacts, Transform
from hwnas.measure.onnx import export_onnx
from hwnas.quantization.mapping import map_modules, map_nodes
from hwnas.quantization.ort import (
    calibration_feeds,
    gemm_as_matmul,
    preprocess,
    quantize_dynamic_matmul,
    quantize_static_qdq,
)
from hwnas.quantization.policy import (
    FP32,
    PRECISIONS,
    PolicyLayer,
    policy_layers,
    policy_space,
    split_config,
)
from hwnas.space import Config, SearchSpace

CACHE_SIZE = 32
METHODS = ("auto", "static", "dynamic")


@TRANSFORMS.register("quantize")
class QuantizeTransform(Transform):
    """INT8 quantization with ONNX Runtime of every layer whose ``quant.*`` gene is
    ``int8``; ``fp32`` layers are left out. ``method``: ``static`` (QDQ, S8S8, per-channel
    weights, for CNNs), ``dynamic`` (``MatMulInteger``, for transformers) or ``auto``
    (dynamic when every policy layer is a MatMul).

    ``calibration_samples`` training inputs, drawn by ``calibration_seed``, calibrate the
    activation ranges (MinMax), in batches of ``calibration_batch_size``.
    """

    name = "quantize"
    produces = ("onnx", "session")

    def __init__(self, calibration_samples: int = 128, calibration_batch_size: int = 32,
                 calibration_seed: int = 0, per_channel: bool = True,
                 method: str = "auto") -> None:
        if method not in METHODS:
            raise InvalidConfigError(f"unknown quantization method {method!r}; choose one of "
                                     f"{list(METHODS)}")
        if calibration_samples < 1 or calibration_batch_size < 1:
            raise InvalidConfigError(
                "quantization needs calibration_samples >= 1 and calibration_batch_size >= 1; "
                f"got {calibration_samples} and {calibration_batch_size}"
            )
        self.calibration_samples = calibration_samples
        self.calibration_batch_size = calibration_batch_size
        self.calibration_seed = calibration_seed
        self.per_channel, self.method = per_channel, method
        self._layers: dict[int, list[PolicyLayer]] = {}
        self._feeds: dict[int, list] = {}
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self.quantizations = 0  # how many models this transform has quantized (not cached)

    def settings(self) -> dict[str, Any]:
        return {"calibration_samples": self.calibration_samples,
                "calibration_batch_size": self.calibration_batch_size,
                "calibration_seed": self.calibration_seed, "per_channel": self.per_channel,
                "method": self.method}

    # -- the seam ------------------------------------------------------------------------------
    def architecture(self, config: Config) -> Config:
        return split_config(config)[0]

    def search_space(self, space: SearchSpace, supernet: Any) -> SearchSpace:
        return policy_space(supernet, self.layers(supernet))

    def layers(self, supernet: Any) -> list[PolicyLayer]:
        """The super-network's quantizable layers (probed once per super-network)."""
        key = id(supernet)
        if key not in self._layers:
            self._layers[key] = policy_layers(supernet)
        return self._layers[key]

    def __call__(self, artifacts: Artifacts) -> Artifacts:
        context, config = artifacts.context, artifacts.config
        if context is None or config is None or artifacts.module is None:
            raise InvalidConfigError("the quantize transform runs inside an evaluation "
                                     "Pipeline (it needs the config, the module and the data)")
        quantized = self.quantize(context.supernet, config, artifacts.module,
                                  artifacts.example_inputs, context.data)
        return Artifacts(None, artifacts.example_inputs, onnx=quantized, config=config,
                         context=context)

    # -- quantizing ----------------------------------------------------------------------------
    def check_policy(self, supernet: Any, policy: dict[str, Any]) -> None:
        known = {layer.gene for layer in self.layers(supernet)}
        unknown = sorted(set(policy) - known)
        if unknown:
            raise InvalidConfigError(
                f"the policy names layer {unknown[0]!r}, which this super-network does not "
                f"have; its quantizable layers: {sorted(known)}"
            )
        wrong = {gene: value for gene, value in policy.items() if value not in PRECISIONS}
        if wrong:
            gene, value = next(iter(wrong.items()))
            raise InvalidConfigError(f"{gene}={value!r}: a layer's precision is one of "
                                     f"{list(PRECISIONS)}")

    def quantize(self, supernet: Any, config: Config, module: Any, example_inputs: Any,
                 data: Any) -> bytes:
        """The quantized ONNX bytes of the prepared sub-network ``module`` of ``config`` (a
        layer whose gene is missing from ``config`` is quantized)."""
        architecture, policy = split_config(config)
        self.check_policy(supernet, policy)
        modules = map_modules(supernet, architecture, module, self.layers(supernet),
                              example_inputs)
        kept = sorted(gene for gene in modules if policy.get(gene) == FP32)
        key = json.dumps([supernet.space.canonical(architecture), kept], sort_keys=True,
                         default=str)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        preprocessed = _exported(module, example_inputs)
        method = self.method_for(module, modules)
        if method == "dynamic":
            preprocessed = gemm_as_matmul(preprocessed)
        nodes = map_nodes(require("onnx", "onnx").load_from_string(preprocessed), modules)
        excluded = [name for gene in kept for name in nodes[gene]]
        if len(kept) == len(modules):
            result = preprocessed  # nothing to quantize: the fp32 model, measured the same way
        elif method == "dynamic":
            result = quantize_dynamic_matmul(preprocessed, excluded)
            self.quantizations += 1
        else:
            result = quantize_static_qdq(preprocessed, self._calibration(data), excluded,
                                         self.per_channel)
            self.quantizations += 1
        self._cache[key] = result
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def method_for(self, module: Any, modules: dict[str, str]) -> str:
        """``static`` (QDQ, calibrated) or ``dynamic`` (MatMuls); ``auto`` takes dynamic
        when the sub-network's policy layers are all ``Linear`` (a transformer, an MLP)."""
        if self.method != "auto":
            return self.method
        linear_only = all(isinstance(module.get_submodule(path), nn.Linear)
                          for path in modules.values())
        return "dynamic" if linear_only else "static"

    def _calibration(self, data: Any) -> list:
        if data is None:
            raise InvalidConfigError(
                "quantization calibrates on the training split, but the study has no data; "
                "give it data= (arrays), dataset= (a registered name) or --data FILE.npz"
            )
        key = id(data)
        if key not in self._feeds:
            self._feeds[key] = calibration_feeds(data.train_x, self.calibration_samples,
                                                 self.calibration_batch_size,
                                                 self.calibration_seed)
        return self._feeds[key]


def _exported(module: Any, example_inputs: Any) -> bytes:
    """The module as pre-processed ONNX (stable per-layer node names), or one clear error."""
    try:
        return preprocess(export_onnx(module, example_inputs))
    except HwnasError:
        raise
    except Exception as error:  # noqa: BLE001 - the exporters raise many kinds
        first = str(error).splitlines()[0] if str(error) else ""
        raise EvaluationError(
            f"the ONNX exporter cannot handle this sub-network ({type(error).__name__}: "
            f"{first[:200]}); quantization needs an ONNX model: make the module exportable "
            "with torch.onnx.export(dynamo=False)"
        ) from None


__all__ = ["QuantizeTransform"]

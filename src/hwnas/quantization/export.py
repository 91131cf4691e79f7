"""The INT8 ONNX model of one sub-network of a trained super-network, written as the
``quantize`` transform makes and a quantized study measures it (``hwnas export
--checkpoint C --config J --quantization``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.errors import InvalidConfigError
from hwnas.evaluation import Pipeline, create_evaluator
from hwnas.export import write_transformed
from hwnas.quantization.policy import INT8, with_default_policy
from hwnas.quantization.transform import QuantizeTransform
from hwnas.space import Config


def export_quantized(out: str | Path, checkpoint: str | Path, config: Config, *,
                     dataset: str | None = None, data: Any = None,
                     transform: QuantizeTransform | None = None) -> Path:
    """Write ``config`` of ``checkpoint`` as quantized ONNX to ``out`` (``.onnx``). The
    policy genes ``config`` leaves out are INT8; calibration uses the checkpoint's training
    split (or ``dataset``/``data``) with ``transform``'s settings (default: the ones
    ``hwnas search --quantization`` uses)."""
    created = create_evaluator(base_dir=None, objectives=(), checkpoint=checkpoint,
                               dataset=dataset, data=data,
                               transform=transform or QuantizeTransform())
    if not isinstance(created.evaluator, Pipeline):  # pragma: no cover - a checkpoint is one
        raise InvalidConfigError("a checkpoint gives a super-network")
    config = created.space.validate(with_default_policy(created.space, config, INT8))
    return write_transformed(created.evaluator, config, out)


__all__ = ["export_quantized"]

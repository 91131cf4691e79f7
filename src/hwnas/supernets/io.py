"""A super-network's inputs and outputs, made explicit.

Measures, training and export never call ``model(x)`` or ``logits.argmax(1)`` themselves;
they go through these helpers, so a super-network whose inputs are a tuple (token ids and
an attention mask) or a dict, or whose outputs need their own decoding, fits the same
pipeline as a CNN. What a super-network may define (each optional, with the default):

- ``example_input(batch_size)``: a tensor, a tuple of tensors or a dict of tensors, each
  with the batch as its first dimension (default: ``torch.randn(batch_size, *input_shape)``
  when the super-network has ``input_shape``);
- ``predictions(outputs)``: class indices from the model's outputs (default: ``argmax`` over
  dimension 1 of a tensor, or of its ``logits`` attribute/key);
- ``loss(outputs, targets)``: a scalar to train on (default: cross-entropy of the logits).

>>> class Tiny:
...     input_shape = (3,)
>>> tuple(example_inputs(Tiny(), 4).shape)
(4, 3)
>>> inputs = {"ids": torch.zeros(5, 2), "mask": torch.ones(5, 2)}
>>> {k: tuple(v.shape) for k, v in batch_of(inputs, 2).items()}
{'ids': (2, 2), 'mask': (2, 2)}
>>> predictions(Tiny(), torch.tensor([[0.1, 0.9], [2.0, 1.0]])).tolist()
[1, 0]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.errors import InvalidConfigError

Inputs = Union[torch.Tensor, tuple, Mapping]  # noqa: UP007 - a runtime alias for py3.10


def input_shape(supernet: Any) -> tuple[int, ...] | None:
    """The shape of one input sample (no batch dimension), when the super-network says."""
    shape = getattr(supernet, "input_shape", None)
    return tuple(int(s) for s in shape) if shape is not None else None


def example_inputs(supernet: Any, batch_size: int = 1) -> Inputs:
    """Example inputs for a batch of ``batch_size``: the super-network's ``example_input``,
    else random inputs of its ``input_shape``."""
    if batch_size < 1:
        raise InvalidConfigError(f"batch_size must be >= 1, got {batch_size}")
    make = getattr(supernet, "example_input", None)
    if callable(make):
        return make(batch_size)
    shape = input_shape(supernet)
    if shape is None:
        raise InvalidConfigError(
            f"{type(supernet).__name__} has neither example_input(batch_size) nor input_shape; "
            "define one of them so that hwnas can build inputs for measuring"
        )
    return torch.randn((batch_size, *shape))


def forward(model: nn.Module, inputs: Inputs) -> Any:
    """Call ``model`` on ``inputs``: a tensor as one argument, a tuple as positional
    arguments, a dict as keyword arguments."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def batch_size_of(inputs: Inputs) -> int:
    """The batch dimension of ``inputs`` (the first dimension of its first tensor)."""
    return int(_first_tensor(inputs).shape[0])


def slice_inputs(inputs: Inputs, index: slice | torch.Tensor) -> Inputs:
    """The same rows (``index``: a slice or an index tensor) of every tensor in ``inputs``."""
    if isinstance(inputs, Mapping):
        return {key: value[index] for key, value in inputs.items()}
    if isinstance(inputs, tuple):
        return tuple(value[index] for value in inputs)
    return inputs[index]


def batch_of(inputs: Inputs, batch_size: int) -> Inputs:
    """A batch of ``batch_size`` made by repeating the first sample of ``inputs``."""
    if isinstance(inputs, Mapping):
        return {key: _repeat_first(value, batch_size) for key, value in inputs.items()}
    if isinstance(inputs, tuple):
        return tuple(_repeat_first(value, batch_size) for value in inputs)
    return _repeat_first(inputs, batch_size)


def input_signature(inputs: Inputs) -> str:
    """A short description of ``inputs`` for error messages, e.g. ``(16, 1, 8, 8)``."""
    if isinstance(inputs, Mapping):
        return "{" + ", ".join(f"{k}: {tuple(v.shape)}" for k, v in inputs.items()) + "}"
    if isinstance(inputs, tuple):
        return "(" + ", ".join(str(tuple(v.shape)) for v in inputs) + ")"
    return str(tuple(inputs.shape))


def logits_of(outputs: Any) -> torch.Tensor:
    """The logits in a model's outputs: a tensor, ``outputs.logits`` or ``outputs["logits"]``,
    or the first element of a tuple."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, Mapping) and "logits" in outputs:
        return outputs["logits"]
    if hasattr(outputs, "logits"):
        return outputs.logits
    if isinstance(outputs, (tuple, list)) and outputs and isinstance(outputs[0], torch.Tensor):
        return outputs[0]
    raise InvalidConfigError(
        f"cannot find logits in the model's outputs ({type(outputs).__name__}); give the "
        "super-network a predictions(outputs) method (and loss(outputs, targets) to train it)"
    )


def predictions(supernet: Any, outputs: Any) -> torch.Tensor:
    """Class indices from ``outputs``: the super-network's ``predictions``, else argmax."""
    decode = getattr(supernet, "predictions", None)
    if callable(decode):
        return decode(outputs)
    return logits_of(outputs).argmax(dim=1)


def loss(supernet: Any, outputs: Any, targets: torch.Tensor,
         label_smoothing: float = 0.0) -> torch.Tensor:
    """The training loss: the super-network's ``loss``, else cross-entropy of the logits."""
    own = getattr(supernet, "loss", None)
    if callable(own):
        return own(outputs, targets)
    return F.cross_entropy(logits_of(outputs), targets, label_smoothing=label_smoothing)


def _first_tensor(inputs: Inputs) -> torch.Tensor:
    if isinstance(inputs, Mapping):
        return next(iter(inputs.values()))
    if isinstance(inputs, tuple):
        return inputs[0]
    return inputs


def _repeat_first(tensor: torch.Tensor, batch_size: int) -> torch.Tensor:
    first = tensor[:1]
    return first.expand(batch_size, *first.shape[1:]).contiguous()


__all__ = ["Inputs", "batch_of", "batch_size_of", "example_inputs", "forward", "input_shape",
           "input_signature", "logits_of", "loss", "predictions", "slice_inputs"]

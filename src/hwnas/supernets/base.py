"""The super-network contract, a base class for built-in ones, and checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from hwnas.errors import CheckpointError
from hwnas.files import atomic_write
from hwnas.space import Config, SearchSpace


@runtime_checkable
class Supernet(Protocol):
    """What hwnas needs of a super-network; bring your own by implementing these.

    Required: ``space``, ``activate`` and ``extract``. For measuring, the super-network
    also says what its inputs look like: ``example_input(batch_size)`` returning a tensor,
    a tuple or a dict of tensors (or an ``input_shape`` attribute for a single tensor of
    that shape per sample). Optional: ``predictions(outputs)`` (class indices; default
    argmax over dimension 1 of the logits) and ``loss(outputs, targets)`` (default
    cross-entropy), see :mod:`hwnas.supernets.io`. For training: ``dimension_roles`` (which
    dimensions are kernels, depths, widths; default from their names, see
    :mod:`hwnas.training.roles`), ``reorder_by_importance()`` (sort channels before
    progressive shrinking's width phase; the full network's outputs must not change),
    ``default_optimizer`` and ``default_lr``.
    """

    space: SearchSpace

    def activate(self, config: Config) -> None:
        """Switch the shared weights to the sub-network ``config``, in place."""

    def extract(self, config: Config) -> nn.Module:
        """A standalone copy of the sub-network with sliced weights and the same outputs."""


class ElasticSupernet(nn.Module):
    """Base of the built-in super-networks: validation, the active config, example inputs.

    Subclasses set ``space`` and ``input_shape`` (one sample, without the batch dimension)
    and implement ``_apply_config`` (switch the elastic layers to a config) and
    ``_build_static`` (plain layers copied from the elastic ones as they are switched now);
    ``extract`` switches to the config, builds, and switches back.
    """

    space: SearchSpace
    input_shape: tuple[int, ...]

    def __init__(self) -> None:
        super().__init__()
        self.active_config: Config | None = None

    def activate(self, config: Config) -> None:
        config = self.space.canonical(config)
        self._apply_config(config)
        self.active_config = config

    def extract(self, config: Config) -> nn.Module:
        config = self.space.canonical(config)
        self._apply_config(config)
        try:
            static = self._build_static()
        finally:
            if self.active_config is not None:
                self._apply_config(self.active_config)
        static.train(self.training)
        return static

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.randn((batch_size, *self.input_shape))

    def _apply_config(self, config: Config) -> None:
        raise NotImplementedError

    def _build_static(self) -> nn.Module:
        raise NotImplementedError


def configure_stages(stages: nn.ModuleList,
                     config: Config) -> Iterator[tuple[int, str, nn.Module]]:
    """Mark each block of each stage active while its index is below the stage's depth
    (``config["stage{s}.depth"]``), and yield ``(stage, "stage{s}.block{b}", block)`` for
    the caller to set the block's other dimensions."""
    for stage, blocks in enumerate(stages):
        depth = config[f"stage{stage}.depth"]
        for index, block in enumerate(blocks):
            block.active = index < depth
            yield stage, f"stage{stage}.block{index}", block


def forward_active(stages: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """``x`` through every active block of every stage, in order."""
    for blocks in stages:
        for block in blocks:
            if block.active:
                x = block(x)
    return x


def save_checkpoint(supernet: nn.Module, path: str | Path, name: str,
                    options: dict[str, Any], metadata: dict[str, Any] | None = None) -> Path:
    """Write the weights with what is needed to rebuild the super-network (atomically)."""
    payload = {"format": "hwnas-supernet/1", "name": name, "options": options,
               "state_dict": supernet.state_dict(), "metadata": metadata or {}}
    return atomic_write(path, lambda stream: torch.save(payload, stream))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's payload, or a :class:`CheckpointError` saying what to do."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not exist; train one first with `hwnas train`"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported the same way
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read ({type(error).__name__}); "
            "it is not an hwnas super-network checkpoint"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != "hwnas-supernet/1":
        raise CheckpointError(
            f"{str(path)!r} is not an hwnas super-network checkpoint "
            "(written by `hwnas train` or hwnas.save_checkpoint)"
        )
    return payload


def load_state(supernet: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Load weights, turning a shape or key mismatch into a :class:`CheckpointError`."""
    own = supernet.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = sorted(k for k in set(own) & set(state_dict) if own[k].shape != state_dict[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:3]}")
        if unexpected:
            details.append(f"unexpected {unexpected[:3]}")
        if wrong:
            key = wrong[0]
            details.append(f"{key} has shape {tuple(state_dict[key].shape)}, "
                           f"expected {tuple(own[key].shape)}")
        raise CheckpointError(
            f"checkpoint {source!r} does not fit this super-network ({'; '.join(details)}); "
            "use the checkpoint trained for it, or train again with `hwnas train`"
        )
    supernet.load_state_dict(state_dict)

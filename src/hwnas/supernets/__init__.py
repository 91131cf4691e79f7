"""Super-networks: the protocol, the built-in elastic families, and their registry.

Every family registers a ``tiny_*`` variant that runs on a CPU in milliseconds, so the
conformance tests (``hwnas.testing``) can go over the whole registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.registry import Registry
from hwnas.supernets.base import (
    ElasticSupernet,
    Supernet,
    load_state,
    read_checkpoint,
    save_checkpoint,
)
from hwnas.supernets.cnn import ElasticCNN

SUPERNETS: Registry[ElasticSupernet] = Registry("super-network")


@SUPERNETS.register("elastic_cnn")
def elastic_cnn(in_channels: int = 1, input_size: int = 8, num_classes: int = 10) -> ElasticCNN:
    """2-D elastic CNN for small images (default: 8x8 digits); 17.2M sub-networks. The
    narrow end (2 channels) is deliberately weak, so accuracy trades against latency."""
    return ElasticCNN(2, in_channels, input_size, num_classes, stem_width=8,
                      stage_widths=[(2, 8, 16), (4, 16, 32), (8, 32, 64)])


@SUPERNETS.register("tiny_elastic_cnn")
def tiny_elastic_cnn(in_channels: int = 1, input_size: int = 8,
                     num_classes: int = 10) -> ElasticCNN:
    return ElasticCNN(2, in_channels, input_size, num_classes, stem_width=4,
                      stage_widths=[(2, 4), (4, 6)], depths=(1, 2), kernels=(1, 3))


@SUPERNETS.register("elastic_cnn1d")
def elastic_cnn1d(in_channels: int = 1, input_size: int = 40,
                  num_classes: int = 10) -> ElasticCNN:
    """1-D elastic CNN for signals (default: mnist1d, length 40)."""
    return ElasticCNN(1, in_channels, input_size, num_classes, stem_width=32,
                      stage_widths=[(16, 32, 48), (32, 64, 96), (64, 96, 128)],
                      kernels=(3, 5, 7))


@SUPERNETS.register("tiny_elastic_cnn1d")
def tiny_elastic_cnn1d(in_channels: int = 1, input_size: int = 16,
                       num_classes: int = 10) -> ElasticCNN:
    return ElasticCNN(1, in_channels, input_size, num_classes, stem_width=4,
                      stage_widths=[(2, 4), (4, 6)], depths=(1, 2), kernels=(3, 5))


@SUPERNETS.register("cnn1d_bench")
def cnn1d_bench(in_channels: int = 1, input_size: int = 40,
                num_classes: int = 10) -> ElasticCNN:
    """1-D elastic CNN of the tabulated mnist1d benchmark (``hwnas.tabular``): 4 stages,
    depth 1 or 2, 3 widths per block, one kernel size; (3 + 3**2)**4 = 20,736 sub-networks.
    Narrow at the small end, so that accuracy really trades against size on mnist1d."""
    return ElasticCNN(1, in_channels, input_size, num_classes, stem_width=8,
                      stage_widths=[(4, 8, 16), (4, 12, 24), (8, 16, 32), (8, 24, 48)],
                      depths=(1, 2), kernels=(3,))


@SUPERNETS.register("tiny_cnn1d_bench")
def tiny_cnn1d_bench(in_channels: int = 1, input_size: int = 16,
                     num_classes: int = 10) -> ElasticCNN:
    return ElasticCNN(1, in_channels, input_size, num_classes, stem_width=4,
                      stage_widths=[(2, 3, 4), (2, 4, 6), (4, 6, 8), (4, 6, 8)],
                      depths=(1, 2), kernels=(3,))


def create_supernet(name: str, options: dict[str, Any] | None = None) -> ElasticSupernet:
    """Build the registered super-network ``name`` with ``options`` (its factory's arguments)."""
    return SUPERNETS.create(name, **(options or {}))


def load_supernet(path: str | Path) -> ElasticSupernet:
    """Rebuild a super-network from a checkpoint written by :func:`save_checkpoint`."""
    payload = read_checkpoint(path)
    supernet = create_supernet(payload["name"], payload["options"])
    load_state(supernet, payload["state_dict"], str(path))
    supernet.eval()
    return supernet


__all__ = ["SUPERNETS", "ElasticCNN", "ElasticSupernet", "Supernet", "create_supernet",
           "load_supernet", "save_checkpoint", "read_checkpoint"]

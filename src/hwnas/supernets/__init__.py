"""Super-networks: the protocol, the built-in elastic families, and their registry.

Every family registers a ``tiny_*`` variant that runs on a CPU in milliseconds, so the
conformance tests (``hwnas.testing``) can go over the whole registry.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwnas.errors import InvalidConfigError, UnknownNameError
from hwnas.registry import Registry, import_object
from hwnas.supernets.base import (
    ElasticSupernet,
    Supernet,
    load_state,
    read_checkpoint,
    save_checkpoint,
)
from hwnas.supernets.cnn import ElasticCNN
from hwnas.supernets.mobilenet import MobileNetV3Supernet
from hwnas.supernets.resnet import ResNetSupernet
from hwnas.supernets.transformer import ElasticTransformer

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
    """The elastic_cnn family at test size (stem 4, two stages up to 6 channels)."""
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
    """The elastic_cnn1d family at test size (inputs of length 16, up to 6 channels)."""
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
    """The cnn1d_bench family at test size (4 stages, up to 8 channels)."""
    return ElasticCNN(1, in_channels, input_size, num_classes, stem_width=4,
                      stage_widths=[(2, 3, 4), (2, 4, 6), (4, 6, 8), (4, 6, 8)],
                      depths=(1, 2), kernels=(3,))


@SUPERNETS.register("ofa_mobilenet_v3")
def ofa_mobilenet_v3(in_channels: int = 3, input_size: int = 32,
                     num_classes: int = 10) -> MobileNetV3Supernet:
    """Once-for-All's MobileNetV3 space: 5 stages of depth 2-4, expand 3/4/6 and kernel
    3/5/7 per block; (sum over d=2..4 of 9**d)**5 = 7371**5 ~ 2.2e19 sub-networks (OFA:
    "more than 10^19")."""
    return MobileNetV3Supernet(in_channels, input_size, num_classes)


@SUPERNETS.register("tiny_ofa_mobilenet_v3")
def tiny_ofa_mobilenet_v3(in_channels: int = 1, input_size: int = 8,
                          num_classes: int = 10) -> MobileNetV3Supernet:
    """The ofa_mobilenet_v3 family at test size (2 stages, 8x8 inputs, SE and hard-swish
    kept)."""
    return MobileNetV3Supernet(in_channels, input_size, num_classes, stem_width=4,
                               first_width=4, stage_widths=(8, 12), strides=(2, 1),
                               activations=("relu", "hswish"), squeeze_excite=(False, True),
                               depths=(1, 2), expand_ratios=(2, 3), kernels=(3, 5),
                               final_width=16, head_width=16)


@SUPERNETS.register("ofa_resnet50")
def ofa_resnet50(in_channels: int = 3, input_size: int = 32,
                 num_classes: int = 10) -> ResNetSupernet:
    """Once-for-All's ResNet50 space: bottleneck stages of depth base+0/1/2, a width
    multiplier 0.65/0.8/1.0 per stage and for the stem, expand 0.2/0.25/0.35 per block."""
    return ResNetSupernet(in_channels, input_size, num_classes)


@SUPERNETS.register("tiny_ofa_resnet50")
def tiny_ofa_resnet50(in_channels: int = 1, input_size: int = 8,
                      num_classes: int = 10) -> ResNetSupernet:
    """The ofa_resnet50 family at test size (2 bottleneck stages, 8x8 inputs)."""
    return ResNetSupernet(in_channels, input_size, num_classes, stem_width=4,
                          stage_widths=(8, 16), base_depths=(1, 1), extra_depths=(0, 1),
                          strides=(1, 2), width_multipliers=(0.5, 1.0),
                          expand_ratios=(0.25, 0.5), channel_divisor=2)


@SUPERNETS.register("elastic_transformer")
def elastic_transformer(input_shape: tuple[int, ...] = (1, 40), num_classes: int = 10,
                        patch: int = 4) -> ElasticTransformer:
    """A pre-norm transformer encoder over patches (default: mnist1d, 10 tokens of 4):
    1-4 layers, 1/2/4 heads of 8 and FFN width 32/64/128 per layer; hidden size 32 fixed."""
    return ElasticTransformer(input_shape, num_classes, patch=patch)


@SUPERNETS.register("tiny_elastic_transformer")
def tiny_elastic_transformer(input_shape: tuple[int, ...] = (1, 16), num_classes: int = 10,
                             patch: int = 4) -> ElasticTransformer:
    """The elastic_transformer family at test size (hidden 8, up to 2 layers of 2 heads)."""
    return ElasticTransformer(input_shape, num_classes, patch=patch, hidden=8, depths=(1, 2),
                              heads=(1, 2), head_dim=4, ffn_widths=(8, 16))


PRETRAINED_FINE_TUNING_LR = 5e-5
"""AdamW's peak learning rate for pre-trained weights (BERT's fine-tuning range is 2e-5 to
5e-5; the from-scratch default, 1e-3, destroys what the model learnt)."""


@SUPERNETS.register("hf_model")
def hf_model(model: str = "bert-base-uncased", task: str = "sequence-classification",
             num_classes: int = 2, heads: tuple[int, ...] | None = None,
             ffn_fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0), min_layers: int = 1,
             sequence_length: int = 128, attn_implementation: str = "sdpa",
             importance_order: bool = False) -> Any:
    """A pre-trained Hugging Face BERT- or ViT-family model (hub name or local folder; a hub
    name downloads unless cached) made elastic: layers, heads and FFN width per layer
    (``importance_order``: heads and FFN neurons sorted by importance first, DynaBERT).
    Needs the ``hf`` extra (transformers 5)."""
    from hwnas.supernets.huggingface import ElasticHFModel, load_pretrained

    loaded = load_pretrained(model, task=task, num_labels=num_classes,
                             attn_implementation=attn_implementation)
    supernet = ElasticHFModel(loaded, heads=heads, ffn_fractions=ffn_fractions,
                              min_layers=min_layers, sequence_length=sequence_length,
                              importance_order=importance_order)
    supernet.default_lr = PRETRAINED_FINE_TUNING_LR
    return supernet


@SUPERNETS.register("tiny_hf_model")
def tiny_hf_model(num_classes: int = 3, attn_implementation: str = "sdpa",
                  importance_order: bool = False) -> Any:
    """A 2-layer BERT built from a config (nothing downloaded), made elastic."""
    from hwnas.supernets.huggingface import ElasticHFModel, tiny_bert

    return ElasticHFModel(tiny_bert(num_classes, attn_implementation=attn_implementation),
                          sequence_length=8, importance_order=importance_order)


@SUPERNETS.register("tiny_hf_vit")
def tiny_hf_vit(in_channels: int = 1, input_size: int = 8, num_classes: int = 10,
                attn_implementation: str = "sdpa") -> Any:
    """A 2-layer ViT built from a config (nothing downloaded), made elastic; takes 8x8
    digits by default."""
    from hwnas.supernets.huggingface import ElasticHFModel, tiny_vit

    return ElasticHFModel(tiny_vit(num_classes, in_channels, input_size,
                                   attn_implementation=attn_implementation))


ENTRY_POINT_GROUP = "hwnas.supernets"
"""Installed packages register super-network factories under this entry-point group."""


def resolve_supernet_factory(name: str) -> Callable[..., Any]:
    """The factory behind ``name``: a registered name (``SUPERNETS``), an import path
    ``"package.module:factory"``, or an entry point of an installed package (group
    ``hwnas.supernets``).

    >>> resolve_supernet_factory("hwnas.supernets:tiny_elastic_cnn") is tiny_elastic_cnn
    True
    """
    if not isinstance(name, str) or not name:
        raise InvalidConfigError(f"a super-network name must be a non-empty string, got {name!r}")
    if name in SUPERNETS:
        return SUPERNETS.get(name)
    if ":" in name:
        return import_object(name, "super-network factory")
    entry_points = _entry_points()
    if name in entry_points:
        return entry_points[name].load()
    known = SUPERNETS.unknown_message(name)
    installed = f" Installed ({ENTRY_POINT_GROUP}): {', '.join(sorted(entry_points))}." \
        if entry_points else ""
    raise UnknownNameError(f"{known}.{installed} Or give your own as 'package.module:factory'")


def _entry_points() -> dict[str, Any]:
    return {entry.name: entry for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def supernet_names() -> list[str]:
    """Registered names and those installed packages register (entry points)."""
    return sorted(set(SUPERNETS.names()) | set(_entry_points()))


def create_supernet(name: str, options: dict[str, Any] | None = None) -> Any:
    """Build the super-network ``name`` (see :func:`resolve_supernet_factory`) with
    ``options`` (its factory's arguments); a misspelt option raises."""
    factory = resolve_supernet_factory(name)
    try:
        return factory(**(options or {}))
    except TypeError as error:
        if "unexpected keyword argument" in str(error):
            raise InvalidConfigError(f"super-network {name!r}: {error}") from None
        raise


def data_options(name: str, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Any]:
    """The options a factory takes from the data it will train on, by parameter name:
    ``in_channels``, ``input_size`` (last input dimension), ``input_shape``, ``num_classes``
    (only those the factory's signature declares).

    >>> data_options("elastic_cnn", (1, 8, 8), 10)
    {'in_channels': 1, 'input_size': 8, 'num_classes': 10}
    """
    available = {"in_channels": int(input_shape[0]), "input_size": int(input_shape[-1]),
                 "input_shape": tuple(int(s) for s in input_shape),
                 "num_classes": int(num_classes)}
    parameters = inspect.signature(resolve_supernet_factory(name)).parameters
    return {key: value for key, value in available.items() if key in parameters}


def load_supernet(path: str | Path) -> Any:
    """Rebuild a super-network from a checkpoint written by :func:`save_checkpoint`."""
    payload = read_checkpoint(path)
    supernet = create_supernet(payload["name"], payload["options"])
    load_state(supernet, payload["state_dict"], str(path))
    supernet.eval()
    return supernet


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (a checkpoint's identity in a stored study)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["ENTRY_POINT_GROUP", "SUPERNETS", "ElasticCNN", "ElasticSupernet",
           "ElasticTransformer", "MobileNetV3Supernet", "ResNetSupernet", "Supernet",
           "create_supernet", "data_options", "file_sha256", "import_object", "load_supernet",
           "read_checkpoint", "resolve_supernet_factory", "save_checkpoint", "supernet_names"]

"""A Hugging Face ``transformers`` (5.x) model made elastic: layers, heads per layer and FFN
width per layer, as InstaTune / DyNAS-T do for BERT and ViT.

The model's encoder layers and, in each, its attention and FFN linears are found by
*structure*, not by module path (paths differ between architectures and 5.x minors): the
layers are the ``nn.ModuleList`` whose members each call six linears in a forward pass,
in the order query, key, value, attention output, FFN in, FFN out. A sub-network keeps the
first ``h`` heads and the first ``f`` FFN neurons of each of its first ``d`` layers (HAT's
and DyNAS-T's slicing). Optionally (``importance_order=True``, or
``reorder_by_importance()`` before fine-tuning, as progressive shrinking does), heads and
FFN neurons are first sorted by importance, most important first, as DynaBERT does
(importance here: the L1 norm of a head's query, key and value rows, of a neuron's input
weights; DynaBERT measures it by gradients on the task's data). Re-ordering leaves the
full model's outputs unchanged.

The six linears of each layer become :class:`~hwnas.supernets.elastic_ops.ElasticLinear`
(a subclass of ``nn.Linear``: state-dict keys stay those of the plain model), so
``activate`` *slices*: query, key and value produce only the kept heads (the attention
reshapes to ``(..., -1, head_dim)``, so it follows), the FFN only the kept neurons, and the
output projections take the columns their inputs have; dropped layers are not run (the
encoder's layer list is cut to the active depth during the forward pass). A sub-network
therefore costs, in time and MACs, what its extract costs. ``extract`` materialises a
smaller plain ``transformers`` model (sliced ``nn.Linear``s, fewer layers), which exports
to ONNX and ``torch.export`` as any other model, with the same outputs under both ``sdpa``
and ``eager`` attention.

Requires the ``hf`` extra: ``pip install 'hwnas[hf]'`` (transformers >= 5, < 6).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hwnas.errors import InvalidConfigError, require
from hwnas.space import Choice, Config, SearchSpace
from hwnas.supernets.elastic_ops import ElasticLinear
from hwnas.supernets.importance import reorder_attention_and_ffn

LINEARS_PER_LAYER = 6  # query, key, value, attention output, FFN in, FFN out


def _parents(model: nn.Module) -> dict[int, tuple[nn.Module, str]]:
    """id(module) -> (its parent, its attribute name)."""
    found = {}
    for parent in model.modules():
        for name, child in parent.named_children():
            found[id(child)] = (parent, name)
    return found


class ElasticHFModel(nn.Module):
    """A ``transformers`` classification model (text or image) as an hwnas super-network.

    ``heads`` and ``ffn_fractions`` give the values searched per layer (default: every head
    count from 1, and 1/4, 1/2, 3/4 and all of the FFN); ``sequence_length`` the length of
    example token sequences; ``importance_order`` sorts heads and FFN neurons by
    importance first (DynaBERT).
    """

    default_optimizer = "adamw"

    def __init__(self, model: nn.Module, *, heads: Sequence[int] | None = None,
                 ffn_fractions: Sequence[float] = (0.25, 0.5, 0.75, 1.0),
                 min_layers: int = 1, sequence_length: int = 16,
                 importance_order: bool = False) -> None:
        super().__init__()
        self.model = model
        self.config = model.config
        self.sequence_length = sequence_length
        layers, self._linears = self._discover()
        # a plain attribute, not a submodule: the layers' weights are in the state dict once,
        # under the model's own keys
        object.__setattr__(self, "layers", layers)
        total_heads = int(self.config.num_attention_heads)
        self.head_dim = self._linears[0][0].out_features // total_heads
        intermediate = self._linears[0][4].out_features
        head_values = tuple(heads) if heads is not None else tuple(range(1, total_heads + 1))
        if not head_values or not all(1 <= h <= total_heads for h in head_values):
            raise InvalidConfigError(f"heads must lie in 1..{total_heads}, got {head_values}")
        ffn_values = tuple(sorted({max(1, round(intermediate * f)) for f in ffn_fractions}))
        depth_values = tuple(range(min_layers, len(self.layers) + 1))
        if not depth_values:
            raise InvalidConfigError(f"min_layers={min_layers} exceeds the model's "
                                     f"{len(self.layers)} layers")
        dims = [Choice("depth", depth_values)]
        for index in range(len(self.layers)):
            condition = None if index < min_layers else ("depth", index + 1)
            dims.append(Choice(f"layer{index}.heads", head_values, condition))
            dims.append(Choice(f"layer{index}.ffn", ffn_values, condition))
        self.space = SearchSpace(dims)
        self._make_elastic()
        self._active_depth = len(self.layers)
        self.active_config: Config | None = None
        if importance_order:
            self.reorder_by_importance()
        self.activate(self.space.largest())

    # -- discovery ------------------------------------------------------------------------
    def _discover(self) -> tuple[nn.ModuleList, list[list[nn.Linear]]]:
        candidates = [m for m in self.model.modules()
                      if isinstance(m, nn.ModuleList) and len(m) > 0]
        order: list[nn.Linear] = []
        hooks = [m.register_forward_hook(lambda module, *_: order.append(module))
                 for m in self.model.modules() if isinstance(m, nn.Linear)]
        try:
            with torch.no_grad():
                was_training = self.model.training
                self.model.eval()
                self.model(**self.example_input(1))
                self.model.train(was_training)
        finally:
            for hook in hooks:
                hook.remove()
        for layers in candidates:
            per_layer = []
            for layer in layers:
                inside = {id(m) for m in layer.modules()}
                per_layer.append([m for m in order if id(m) in inside])
            if all(len(calls) == LINEARS_PER_LAYER for calls in per_layer):
                self._check_shapes(per_layer)
                return layers, per_layer
        raise InvalidConfigError(
            f"cannot find the encoder layers of {type(self.model).__name__}: no ModuleList "
            "whose layers each call 6 linears (query, key, value, attention output, FFN in, "
            "FFN out); hwnas supports BERT- and ViT-style encoders"
        )

    def _check_shapes(self, per_layer: list[list[nn.Linear]]) -> None:
        for index, (query, key, value, out, ffn_in, ffn_out) in enumerate(per_layer):
            hidden = query.in_features
            fits = (key.in_features == value.in_features == ffn_in.in_features == hidden
                    and query.out_features == key.out_features == value.out_features
                    == out.in_features and out.out_features == ffn_out.out_features == hidden
                    and ffn_in.out_features == ffn_out.in_features)
            if not fits:
                raise InvalidConfigError(
                    f"layer {index} of {type(self.model).__name__} calls linears whose shapes "
                    "do not form attention + FFN; it cannot be made elastic here"
                )

    # -- slicing (the super-network's own forward) -----------------------------------------
    def _make_elastic(self) -> None:
        """Swap each layer's six linears for elastic ones holding the same weights."""
        parents = _parents(self.model)
        self._layers_parent = parents[id(self.layers)]
        elastic_layers = []
        for linears in self._linears:
            swapped = []
            for linear in linears:
                parent, name = parents[id(linear)]
                elastic = ElasticLinear.from_static(linear)
                setattr(parent, name, elastic)
                swapped.append(elastic)
            elastic_layers.append(swapped)
        self._linears = elastic_layers

    def activate(self, config: Config) -> None:
        config = self.space.canonical(config)
        self._active_depth = config["depth"]
        for index in range(len(self.layers)):
            query, key, value, _, ffn_in, _ = self._linears[index]
            width = config[f"layer{index}.heads"] * self.head_dim
            query.active_out = key.active_out = value.active_out = width
            ffn_in.active_out = config[f"layer{index}.ffn"]
        self.active_config = config

    def reorder_by_importance(self) -> None:
        """Sort every layer's heads and FFN neurons by importance, most important first
        (DynaBERT's re-ordering, by weight magnitude); the full model computes the same."""
        for linears in self._linears:
            reorder_attention_and_ffn(*linears, head_dim=self.head_dim)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._active_depth == len(self.layers):
            return self.model(*args, **kwargs)
        parent, name = self._layers_parent
        parent._modules[name] = nn.ModuleList(list(self.layers)[: self._active_depth])
        try:
            return self.model(*args, **kwargs)
        finally:
            parent._modules[name] = self.layers

    # -- extraction ------------------------------------------------------------------------
    def extract(self, config: Config) -> nn.Module:
        """A smaller plain ``transformers`` model: sliced linears, the first layers only."""
        config = self.space.canonical(config)
        model = copy.deepcopy(self.model)
        index_of = {id(m): (i, j) for i, linears in enumerate(self._linears)
                    for j, m in enumerate(linears)}
        copies = {}
        for original, duplicate in zip(self.model.modules(), model.modules()):
            if id(original) in index_of:
                copies[index_of[id(original)]] = duplicate
            if original is self.layers:
                layers = duplicate
        parents = _parents(model)
        for index in range(config["depth"]):
            width = config[f"layer{index}.heads"] * self.head_dim
            ffn = config[f"layer{index}.ffn"]
            for position, rows, columns in ((0, width, None), (1, width, None), (2, width, None),
                                            (3, None, width), (4, ffn, None), (5, None, ffn)):
                linear = copies[(index, position)]
                parent, name = parents[id(linear)]
                setattr(parent, name, _slice_linear(linear, rows, columns))
            for module in layers[index].modules():  # keep the bookkeeping attributes true
                if hasattr(module, "num_attention_heads") and hasattr(module, "all_head_size"):
                    module.num_attention_heads = config[f"layer{index}.heads"]
                    module.all_head_size = width
        del layers[config["depth"]:]
        model.config.num_hidden_layers = config["depth"]
        return model.train(self.training)

    # -- inputs ----------------------------------------------------------------------------
    def example_input(self, batch_size: int = 1) -> dict[str, torch.Tensor]:
        name = getattr(self.model, "main_input_name", "input_ids")
        if name == "pixel_values":
            size = int(self.config.image_size)
            return {"pixel_values": torch.randn(batch_size, int(self.config.num_channels),
                                                size, size)}
        length = self.sequence_length
        return {"input_ids": torch.randint(int(self.config.vocab_size), (batch_size, length)),
                "attention_mask": torch.ones(batch_size, length, dtype=torch.long)}


def _slice_linear(linear: nn.Linear, rows: int | None, columns: int | None) -> nn.Linear:
    """A new ``nn.Linear`` with the first ``rows`` outputs and ``columns`` inputs."""
    rows = rows or linear.out_features
    columns = columns or linear.in_features
    sliced = nn.Linear(columns, rows, bias=linear.bias is not None)
    sliced.weight.data.copy_(linear.weight.data[:rows, :columns])
    if linear.bias is not None:
        sliced.bias.data.copy_(linear.bias.data[:rows])
    return sliced


TASKS = {"sequence-classification": "AutoModelForSequenceClassification",
         "image-classification": "AutoModelForImageClassification"}


def load_pretrained(model: str, *, task: str = "sequence-classification", num_labels: int = 2,
                    attn_implementation: str = "sdpa") -> nn.Module:
    """A pre-trained ``transformers`` model by hub name (e.g. ``"bert-base-uncased"``,
    ``"google/vit-base-patch16-224"``; downloads unless cached) or local folder, with a new
    classification head of ``num_labels``."""
    transformers = require("transformers", "hf")
    if task not in TASKS:
        raise InvalidConfigError(f"unknown task {task!r}; choose one of {sorted(TASKS)}")
    auto = getattr(transformers, TASKS[task])
    return auto.from_pretrained(model, num_labels=num_labels, ignore_mismatched_sizes=True,
                                attn_implementation=attn_implementation)


def tiny_bert(num_labels: int = 3, vocab_size: int = 100,
              attn_implementation: str = "sdpa") -> nn.Module:
    """A 2-layer BERT (hidden 64, 4 heads, FFN 128) built from a config: nothing downloaded."""
    transformers = require("transformers", "hf")
    config = transformers.BertConfig(
        vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=64, num_labels=num_labels,
        attn_implementation=attn_implementation)
    return transformers.BertForSequenceClassification(config)


def tiny_vit(num_labels: int = 10, num_channels: int = 1, image_size: int = 8,
             attn_implementation: str = "sdpa") -> nn.Module:
    """A 2-layer ViT (hidden 32, 4 heads, FFN 64, patches of 4) built from a config."""
    transformers = require("transformers", "hf")
    config = transformers.ViTConfig(
        image_size=image_size, patch_size=4, num_channels=num_channels, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, num_labels=num_labels,
        attn_implementation=attn_implementation)
    return transformers.ViTForImageClassification(config)


__all__ = ["ElasticHFModel", "load_pretrained", "tiny_bert", "tiny_vit"]

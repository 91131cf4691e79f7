"""MACs counted at the tensor functions: hand-computed figures for attention (QK^T and AV
included), sdpa and eager agree, elastic layers count their active slices."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hwnas.measure.counting import count_macs
from hwnas.space import Choice, SearchSpace
from hwnas.supernets import create_supernet
from hwnas.supernets.io import example_inputs
from hwnas.supernets.static import SelfAttention
from hwnas.testing.supernets import check_macs_match_activate


def test_a_tiny_attention_layer_by_hand():
    hidden, heads, head_dim, tokens = 8, 2, 4, 5
    attention = SelfAttention(*(nn.Linear(hidden, hidden) for _ in range(4)), head_dim)
    projections = 4 * tokens * hidden * hidden          # query, key, value, output: 1280
    scores = heads * tokens * tokens * head_dim         # QK^T: 200
    mixing = heads * tokens * tokens * head_dim         # AV: 200
    assert count_macs(attention, torch.randn(1, tokens, hidden)) == \
        projections + scores + mixing == 1680


class _MultiHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, x, x, need_weights=False)[0]


def test_torch_multihead_attention_counts_the_same_figure():
    module = _MultiHead().train()  # the slow path (the fused inference path is not counted)
    assert count_macs(module, torch.randn(1, 5, 8)) == 1680  # as the layer above


def test_plain_layers_keep_their_figures():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1,
                                                                         groups=8))
    assert count_macs(conv, torch.randn(2, 3, 8, 8)) == 8 * 8 * 8 * 27 + 8 * 8 * 8 * 9
    assert count_macs(nn.Linear(6, 4), torch.randn(3, 6)) == 24


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_the_tiny_bert_by_hand_under_both_attention_implementations(attention):
    supernet = create_supernet("tiny_hf_model", {"attn_implementation": attention}).eval()
    tokens, hidden, head_dim, classes = 8, 64, 16, 3

    def layer(heads: int, ffn: int) -> int:
        width = heads * head_dim
        return (3 * tokens * hidden * width + 2 * heads * tokens * tokens * head_dim
                + tokens * width * hidden + 2 * tokens * hidden * ffn)

    head = hidden * hidden + hidden * classes  # pooler (first token) and classifier
    inputs = example_inputs(supernet, 1)
    assert count_macs(supernet.extract(supernet.space.largest()), inputs) == \
        2 * layer(4, 128) + head == 544960
    config = {"depth": 1, "layer0.heads": 2, "layer0.ffn": 32, "layer1.heads": 4,
              "layer1.ffn": 128}
    supernet.activate(config)
    assert count_macs(supernet, inputs) == count_macs(supernet.extract(config), inputs) == \
        layer(2, 32) + head


class _MaskingNet(nn.Module):
    """Masks hidden units instead of slicing: the activated network costs the full MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.space = SearchSpace([Choice("width", (2, 4))])
        self.first, self.second = nn.Linear(3, 4), nn.Linear(4, 2)
        self.width = 4

    def activate(self, config: dict) -> None:
        self.width = config["width"]

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.randn(batch_size, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(4) < self.width).float()
        return self.second(self.first(x) * mask)

    def extract(self, config: dict) -> nn.Module:
        width = config["width"]
        first, second = nn.Linear(3, width), nn.Linear(width, 2)
        first.weight.data.copy_(self.first.weight[:width])
        first.bias.data.copy_(self.first.bias[:width])
        second.weight.data.copy_(self.second.weight[:, :width])
        second.bias.data.copy_(self.second.bias)
        return nn.Sequential(first, second)


def test_the_conformance_check_catches_an_activation_that_only_masks():
    with pytest.raises(AssertionError, match="MACs of extract"):
        check_macs_match_activate(_MaskingNet())

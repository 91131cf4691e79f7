"""Elastic layers are the static torch layers: same state-dict keys, exact from_static /
to_static round trips, and a clear refusal of what they cannot represent."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.supernets import create_supernet
from hwnas.supernets.elastic_ops import (
    ElasticBatchNorm1d,
    ElasticBatchNorm2d,
    ElasticConv1d,
    ElasticConv2d,
    ElasticLinear,
)

STATIC_LAYERS = [
    (ElasticConv2d, nn.Conv2d(3, 8, 5, stride=2, padding=2, bias=True), torch.randn(2, 3, 9, 9)),
    (ElasticConv2d, nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False), torch.randn(2, 6, 7, 7)),
    (ElasticConv1d, nn.Conv1d(2, 4, 7, padding=3), torch.randn(2, 2, 20)),
    (ElasticBatchNorm2d, nn.BatchNorm2d(5), torch.randn(4, 5, 3, 3)),
    (ElasticBatchNorm1d, nn.BatchNorm1d(5), torch.randn(4, 5, 6)),
    (ElasticLinear, nn.Linear(6, 3), torch.randn(4, 6)),
]


@pytest.mark.parametrize("cls, static, x", STATIC_LAYERS)
def test_from_static_wraps_a_trained_layer_exactly(cls, static, x):
    with torch.no_grad():
        for parameter in static.parameters():
            parameter.normal_()
    static.eval()
    elastic = cls.from_static(static).eval()
    assert isinstance(elastic, type(static))
    assert list(elastic.state_dict()) == list(static.state_dict())
    assert torch.allclose(elastic(x), static(x), atol=1e-6)
    back = elastic.to_static(x.shape[1]).eval()
    assert type(back) is type(static)
    assert torch.allclose(back(x), static(x), atol=1e-6)


def test_an_active_slice_equals_its_static_copy():
    conv = ElasticConv2d(4, 8, 5, stride=2, bias=True)
    conv.active_out, conv.active_kernel = 5, 3
    x = torch.randn(2, 3, 8, 8)
    static = conv.to_static(3)
    assert static.weight.shape == (5, 3, 3, 3) and static.bias.shape == (5,)
    assert torch.allclose(conv(x), static(x), atol=1e-6)
    depthwise = ElasticConv2d(8, 8, 5, groups=8)
    depthwise.active_kernel = 3
    x = torch.randn(2, 6, 5, 5)
    assert torch.allclose(depthwise(x), depthwise.to_static(6)(x), atol=1e-6)
    assert depthwise.to_static(6).groups == 6


@pytest.mark.parametrize("layer, message", [
    (nn.Conv2d(3, 4, 3, padding=1, dilation=2), "dilation"),
    (nn.Conv2d(3, 4, 3, padding=0), "padding"),
    (nn.Conv2d(3, 4, 4, padding=2), "odd and square"),
    (nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), "padding_mode"),
    (nn.Conv2d(4, 8, 3, padding=1, groups=2), "dense \\(groups=1\\) or depthwise"),
])
def test_layers_that_cannot_be_elastic_are_refused(layer, message):
    with pytest.raises(InvalidConfigError, match=message):
        ElasticConv2d.from_static(layer)


def test_batch_norm_without_running_statistics_is_refused():
    with pytest.raises(InvalidConfigError, match="tracks running statistics"):
        ElasticBatchNorm2d.from_static(nn.BatchNorm2d(4, track_running_stats=False))


def test_the_mobilenet_v3_space_is_once_for_all_s():
    supernet = create_supernet("ofa_mobilenet_v3")
    assert supernet.space.size() == 7371 ** 5 > 10 ** 19
    kinds = {name.rsplit(".", 1)[-1] for name in supernet.space.names}
    assert kinds == {"depth", "expand", "kernel"}
    assert supernet.space["stage0.block0.kernel"].values == (3, 5, 7)


def test_the_resnet_space_has_depth_width_and_expand():
    supernet = create_supernet("tiny_ofa_resnet50")
    kinds = {name.rsplit(".", 1)[-1] for name in supernet.space.names}
    assert kinds == {"depth", "width", "expand"}
    smallest = supernet.extract(supernet.space.smallest())
    largest = supernet.extract(supernet.space.largest())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(smallest) < count(largest) == sum(p.numel() for p in supernet.parameters())


def test_the_transformer_has_elastic_depth_heads_and_ffn_widths():
    supernet = create_supernet("tiny_elastic_transformer")
    assert supernet.space.names == ["depth", "layer0.heads", "layer0.ffn", "layer1.heads",
                                    "layer1.ffn"]
    config = {"depth": 2, "layer0.heads": 1, "layer0.ffn": 16, "layer1.heads": 2,
              "layer1.ffn": 8}
    layers = supernet.extract(config)[1:3]
    first_attention, second_attention = (layer[0].body for layer in layers)
    assert first_attention.query.out_features == 4 and second_attention.query.out_features == 8
    assert layers[0][1].body[0].out_features == 16 and layers[1][1].body[0].out_features == 8


def test_the_transformer_takes_digits_as_rows_of_patches():
    supernet = create_supernet("elastic_transformer", {"input_shape": (1, 8, 8), "patch": 8})
    assert supernet(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(InvalidConfigError, match="patches of 3"):
        create_supernet("elastic_transformer", {"input_shape": (1, 8, 8), "patch": 3})

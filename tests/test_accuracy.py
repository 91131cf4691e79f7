"""Batch-norm recalibration and accuracy of a module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure.accuracy import evaluate_accuracy
from hwnas.measure.prepare import recalibrate_batchnorm
from hwnas.supernets import create_supernet


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3, momentum=0.3),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))


def _conv_output(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net[0](x)


def test_recalibration_sets_the_statistics_of_one_batch():
    net = _net().eval()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k}
    x = torch.randn(16, 1, 5, 5) * 3 + 2
    recalibrate_batchnorm(net, [x])
    features = _conv_output(net, x)
    bn = net[1]
    torch.testing.assert_close(bn.running_mean, features.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(bn.running_var, features.var(dim=(0, 2, 3), unbiased=True))
    assert bn.momentum == 0.3 and not net.training and not bn.training
    for key, value in net.state_dict().items():
        if key in weights and "num_batches" not in key:
            assert torch.equal(value, weights[key])  # the weights are not touched


def test_recalibration_averages_over_batches_and_forgets_the_old_statistics():
    net = _net().train()
    net[1].running_mean.fill_(100.0)
    batches = [torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4) + 5]
    recalibrate_batchnorm(net, iter(batches))
    means = [_conv_output(net, b).mean(dim=(0, 2, 3)) for b in batches]
    torch.testing.assert_close(net[1].running_mean, (means[0] + means[1]) / 2)
    assert int(net[1].num_batches_tracked) == 2
    assert net.training  # each submodule's mode is restored


def test_recalibration_without_batches_raises_and_keeps_the_statistics():
    net = _net()
    net[1].running_mean.fill_(7.0)
    with pytest.raises(InvalidConfigError, match="no batches"):
        recalibrate_batchnorm(net, [])
    assert torch.all(net[1].running_mean == 7.0)


def test_recalibrated_supernet_and_extracted_subnet_agree():
    torch.manual_seed(0)
    supernet = create_supernet("tiny_elastic_cnn")
    config = supernet.space.smallest()
    supernet.activate(config)
    batches = [torch.rand(32, 1, 8, 8) for _ in range(3)]
    recalibrate_batchnorm(supernet, batches)
    subnet = supernet.extract(config)  # carries the sliced, recalibrated statistics
    subnet_again = supernet.extract(config)
    recalibrate_batchnorm(subnet_again, batches)
    supernet.eval()
    subnet.eval()
    subnet_again.eval()
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(supernet(x), subnet(x))
        torch.testing.assert_close(subnet(x), subnet_again(x))


class _Fixed(nn.Module):
    """Predicts class ``x[:, 0]`` (as an integer) out of three."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(x[:, 0].long(), 3).float()


def test_evaluate_accuracy_counts_the_correct_fraction():
    module = _Fixed().train()
    x = torch.tensor([[0.0], [1.0], [2.0], [2.0], [1.0]])
    y = torch.tensor([0, 1, 2, 0, 0])
    assert evaluate_accuracy(module, x, y, batch_size=2) == pytest.approx(3 / 5)
    assert module.training  # mode restored
    with pytest.raises(InvalidConfigError, match="as many labels"):
        evaluate_accuracy(module, x, y[:3])


def test_evaluate_accuracy_runs_in_eval_mode_without_gradients():
    seen = {}

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen["training"], seen["grad"] = self.training, torch.is_grad_enabled()
            return torch.zeros(len(x), 2)

    assert evaluate_accuracy(Probe(), torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)) == 1.0
    assert seen == {"training": False, "grad": False}

"""Sandwich-rule training with in-place distillation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import hwnas.training.sandwich as sandwich
from hwnas.data import DataSplits, load_dataset
from hwnas.errors import InvalidConfigError
from hwnas.measure.accuracy import evaluate_accuracy
from hwnas.measure.prepare import recalibrate_batchnorm
from hwnas.supernets import create_supernet
from hwnas.training import TrainReport, distillation_loss, train_sandwich

# tiny networks train several times faster on one thread, above all on a busy machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return load_dataset("digits", seed=0)


def _small(data: DataSplits, n_train: int) -> DataSplits:
    return dataclasses.replace(data, train_x=data.train_x[:n_train],
                               train_y=data.train_y[:n_train])


def _supernet(seed: int = 0):
    torch.manual_seed(seed)
    return create_supernet("tiny_elastic_cnn")


def _train(data: DataSplits, seed: int = 0, **options) -> tuple[torch.nn.Module, TrainReport]:
    supernet = _supernet()
    settings = {"epochs": 1, "batch_size": 32, "seed": seed, "progress": False, **options}
    return supernet, train_sandwich(supernet, data, **settings)


def test_same_seed_gives_identical_weights(digits):
    data = _small(digits, 96)
    first, report = _train(data, seed=1)
    second, _ = _train(data, seed=1)
    third, _ = _train(data, seed=2)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
    assert any(not torch.equal(v, third.state_dict()[k]) for k, v in first.state_dict().items())
    assert report.epochs == 1 and report.steps == 3 and report.seconds > 0


def test_distillation_loss_is_zero_for_the_teacher_and_reaches_only_the_student():
    teacher = torch.randn(6, 10, requires_grad=True)
    assert float(distillation_loss(teacher, teacher).detach()) == pytest.approx(0.0, abs=1e-6)
    student = torch.randn(6, 10, requires_grad=True)
    loss = distillation_loss(student, teacher, temperature=2.0)
    loss.backward()
    assert float(loss.detach()) > 0 and student.grad is not None and teacher.grad is None
    expected = torch.nn.functional.kl_div(
        torch.log_softmax(student / 2, 1), torch.softmax(teacher / 2, 1), reduction="batchmean"
    ) * 4
    torch.testing.assert_close(loss, expected)


def test_every_step_distils_the_smallest_and_the_random_subnets(digits, monkeypatch):
    calls = []

    def spy(student, teacher, temperature=1.0):
        calls.append((student.requires_grad, teacher.requires_grad, temperature))
        return distillation_loss(student, teacher, temperature)

    monkeypatch.setattr(sandwich, "distillation_loss", spy)
    _, report = _train(_small(digits, 64), n_random=3, distill_temperature=2.0)
    assert report.steps == 2 and len(calls) == 2 * 4  # smallest + 3 random, per step
    assert all(c == (True, False, 2.0) for c in calls)
    assert report.final_distill_loss > 0


def test_distilled_subnets_change_the_shared_weights(digits):
    data = _small(digits, 64)
    with_students, _ = _train(data, n_random=2)
    alone, _ = _train(data, n_random=0)
    key = "stem.0.weight"  # shared by every sub-network
    assert not torch.equal(with_students.state_dict()[key], alone.state_dict()[key])


def test_short_training_beats_an_untrained_net_and_ends_ready(digits):
    data = _small(digits, 512)
    supernet = _supernet()
    largest = supernet.space.largest()
    untrained = supernet.extract(largest)
    recalibrate_batchnorm(untrained, [data.train_x[:256]])
    before = evaluate_accuracy(untrained, data.val_x, data.val_y)
    report = train_sandwich(supernet, data, epochs=4, batch_size=32, lr=0.2, n_random=1,
                            progress=False)
    assert report.val_accuracy_largest > max(0.35, before + 0.2)
    assert report.test_accuracy_largest > 0.35
    assert not supernet.training and supernet.active_config == largest
    assert evaluate_accuracy(supernet, data.val_x, data.val_y) == pytest.approx(
        report.val_accuracy_largest, abs=0.05)


def test_training_shows_a_progress_bar(digits, capsys):
    _train(_small(digits, 64), progress=True)
    assert "sandwich training" in capsys.readouterr().out


def test_mismatched_data_and_bad_options_raise(digits):
    signals = load_dataset("mnist1d", options={"num_samples": 200})
    with pytest.raises(InvalidConfigError, match=r"samples of shape \(1, 8, 8\)"):
        train_sandwich(_supernet(), signals, epochs=1, progress=False)
    few_classes = dataclasses.replace(_small(digits, 64), num_classes=4)
    with pytest.raises(InvalidConfigError, match="num_classes=4"):
        train_sandwich(_supernet(), few_classes, epochs=1, progress=False)
    with pytest.raises(InvalidConfigError, match="epochs=0"):
        train_sandwich(_supernet(), digits, epochs=0, progress=False)
    with pytest.raises(TypeError):
        train_sandwich(_supernet(), digits, 1)  # options are keyword-only


@pytest.mark.slow
def test_elastic_cnn_on_digits_meets_the_quality_bar(digits):
    torch.manual_seed(0)
    supernet = create_supernet("elastic_cnn")
    report = train_sandwich(supernet, digits, seed=0, progress=False)
    assert report.test_accuracy_largest >= 0.98
    assert report.test_accuracy_smallest >= 0.93

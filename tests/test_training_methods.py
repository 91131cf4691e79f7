"""Training methods chosen by name: progressive shrinking, sorted training, InstaTune,
the optimizers, and their way through the API and the CLI."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from hwnas.data import DataSplits, load_dataset
from hwnas.errors import HwnasError, InvalidConfigError, UnknownNameError
from hwnas.supernets import create_supernet, load_supernet, read_checkpoint
from hwnas.training import (
    OPTIMIZERS,
    TRAINING_METHODS,
    InstaTune,
    ProgressiveShrinking,
    TrainingRun,
    dimension_roles,
    nested_configs,
    train,
)

# tiny networks train several times faster on one thread, above all on a busy machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    data = load_dataset("digits", seed=0)
    return dataclasses.replace(data, train_x=data.train_x[:128], train_y=data.train_y[:128])


def _tiny(name: str = "tiny_elastic_cnn", seed: int = 0):
    torch.manual_seed(seed)
    return create_supernet(name)


class Recorder:
    """Wraps a super-network's ``activate`` to record every config it is switched to."""

    def __init__(self, supernet) -> None:
        self.configs: list[dict] = []
        self.activate = supernet.activate
        supernet.activate = self

    def __call__(self, config) -> None:
        self.configs.append(dict(config))
        self.activate(config)


def test_the_methods_and_optimizers_are_registered_and_misspellings_raise():
    assert {"sandwich", "progressive", "sorted", "instatune"} <= set(TRAINING_METHODS.names())
    assert OPTIMIZERS.names() == ["adamw", "sgd"]
    with pytest.raises(UnknownNameError, match="did you mean 'sorted'"):
        TRAINING_METHODS.get("sortd")
    with pytest.raises(HwnasError, match="n_subnet"):
        TRAINING_METHODS.create("progressive", n_subnet=2)
    with pytest.raises(InvalidConfigError, match="phase_fractions"):
        ProgressiveShrinking(phase_fractions=(0.5, 0.5))


@pytest.mark.parametrize("method, passes_per_step", [("sandwich", 4), ("sorted", 4),
                                                      ("instatune", 2)])
def test_each_method_trains_and_reports_its_budget(digits, method, passes_per_step):
    report = train(_tiny(), digits, method=method, epochs=1, batch_size=32, progress=False)
    assert report.method == method and report.steps == 4
    assert report.subnet_passes == 4 * passes_per_step
    assert report.optimizer == "sgd" and report.lr == 0.1
    assert 0.0 <= report.val_accuracy_smallest <= 1.0


@pytest.mark.parametrize("method", ["progressive", "sorted"])
def test_same_seed_gives_the_same_weights(digits, method):
    first, second = _tiny(), _tiny()
    train(first, digits, method=method, epochs=1, batch_size=32, seed=3, progress=False)
    train(second, digits, method=method, epochs=1, batch_size=32, seed=3, progress=False)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key


def test_roles_come_from_names_or_the_super_networks_declaration():
    supernet = _tiny()
    roles = dimension_roles(supernet)
    assert roles["stage0.depth"] == "depth" and roles["stage0.block0.kernel"] == "kernel"
    assert roles["stage0.block0.width"] == "width"
    supernet.dimension_roles = {"stage0.depth": "width"}
    assert dimension_roles(supernet)["stage0.depth"] == "width"
    supernet.dimension_roles = {"stage0.depth": "breadth"}
    with pytest.raises(InvalidConfigError, match="breadth"):
        dimension_roles(supernet)


def test_progressive_opens_kernel_then_depth_then_width_and_reorders_once(digits):
    supernet = _tiny()
    data = dataclasses.replace(digits, train_x=digits.train_x[:96], train_y=digits.train_y[:96])
    calls: list[int] = []
    reorder = supernet.reorder_by_importance
    recorder = Recorder(supernet)
    supernet.reorder_by_importance = lambda: (calls.append(len(recorder.configs)), reorder())
    method = ProgressiveShrinking(n_subnets=2, phase_fractions=(0.25, 0.25, 0.25, 0.25))
    report = train(supernet, data, method=method, epochs=4, batch_size=32, progress=False)
    assert report.steps == 12 and [p[0] for p in method.phases] == ["full", "kernel", "depth",
                                                                    "width"]
    assert report.subnet_passes == 3 * 1 + 9 * 2
    largest = supernet.space.largest()
    roles = dimension_roles(supernet)

    def varied(configs):
        return {roles[k] for c in configs for k, v in c.items() if v != largest[k]}

    # 3 steps of the largest; the largest once more for the teacher's copy; 3 steps of 2
    # sub-networks per phase; then the final measurement's activations
    full, teacher = recorder.configs[:3], recorder.configs[3]
    kernel, depth, width = (recorder.configs[4 + 6 * i: 10 + 6 * i] for i in range(3))
    assert varied(full) == set() and teacher == largest
    assert varied(kernel) == {"kernel"} and varied(depth) == {"kernel", "depth"}
    assert "width" in varied(width)
    assert len(calls) == 1 and calls[0] == 16  # once, right before the width phase
    assert method.teacher is not None
    assert all(not p.requires_grad for p in method.teacher.parameters())


def test_progressive_skips_a_role_the_space_lacks():
    data = load_dataset("mnist1d", seed=0, options={"num_samples": 200})
    supernet = create_supernet("tiny_cnn1d_bench", {"input_size": 40})  # one kernel size
    method = ProgressiveShrinking()
    report = train(supernet, data, method=method, epochs=1, batch_size=32, progress=False)
    assert [p[0] for p in method.phases] == ["full", "depth", "width"]
    assert method.phases[-1][2] == report.steps


def test_sorted_trains_nested_sub_networks_in_a_fixed_cycle(digits):
    supernet = _tiny()
    levels = nested_configs(supernet.space, 4)
    for smaller, larger in zip(levels, levels[1:]):  # nested: no value shrinks upward
        for dim in supernet.space.dims:
            assert dim.index(smaller[dim.name]) <= dim.index(larger[dim.name])
    assert levels[0] == supernet.space.canonical(supernet.space.smallest())
    assert levels[-1] == supernet.space.largest()
    recorder = Recorder(supernet)
    train(supernet, digits, method="sorted", method_options={"levels": 4, "n_subnets": 3},
          epochs=1, batch_size=32, progress=False)
    expected = [levels[::-1][i % len(levels)] for i in range(4 * 3)]
    assert recorder.configs[:12] == expected


def test_instatune_loss_is_the_papers_formula():
    supernet = _tiny()
    data = load_dataset("digits", seed=0)
    run = TrainingRun(supernet, supernet, supernet.space, data, np.random.default_rng(0),
                      torch.optim.SGD(supernet.parameters(), lr=0.1), 1, label_smoothing=0.0)
    torch.manual_seed(0)
    full, sub = torch.randn(8, 10), torch.randn(8, 10)
    targets = torch.randint(10, (8,))
    loss, label, distill = InstaTune().losses(full, [sub], run, targets)
    ce = torch.nn.functional.cross_entropy
    t = 5.0
    kl = torch.nn.functional.kl_div(torch.log_softmax(sub / t, 1), torch.softmax(full / t, 1),
                                    reduction="batchmean")
    expected = (ce(sub, targets) + ce(full, targets)) / 2 + t**2 * kl
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(label + distill, expected)


def _token_task(n: int = 384, seed: int = 0) -> DataSplits:
    """Token sequences of 8 (vocabulary 100) whose class is the first token's id mod 3."""
    rng = np.random.default_rng(seed)
    x = rng.integers(100, size=(n, 8))
    y = x[:, 0] % 3
    cut = [int(0.6 * n), int(0.8 * n)]
    return DataSplits.from_arrays((x[:cut[0]], y[:cut[0]]), (x[cut[0]:cut[1]], y[cut[0]:cut[1]]),
                                  (x[cut[1]:], y[cut[1]:]), name="tokens")


def test_instatune_fine_tunes_the_tiny_bert_as_a_super_network():
    supernet = _tiny("tiny_hf_model")
    data = _token_task()
    untrained = train(_tiny("tiny_hf_model"), data, method="instatune", epochs=1, lr=1e-9,
                      batch_size=32, progress=False)
    report = train(supernet, data, method="instatune", epochs=6, batch_size=32,
                   progress=False)
    assert report.optimizer == "adamw" and report.lr == 1e-3  # the transformers' default
    assert report.subnet_passes == 2 * report.steps
    assert report.val_accuracy_largest > max(0.6, untrained.val_accuracy_largest + 0.2)
    assert report.val_accuracy_smallest > 1 / 3


def test_optimizers_default_per_family_and_can_be_chosen(digits):
    signals = load_dataset("mnist1d", seed=0, options={"num_samples": 200})
    transformer = create_supernet("tiny_elastic_transformer", {"input_shape": (1, 40)})
    report = train(transformer, signals, epochs=1, batch_size=32, progress=False)
    assert (report.optimizer, report.lr) == ("adamw", 3e-3)  # the family's own default
    report = train(transformer, signals, optimizer="sgd", epochs=1, batch_size=32,
                   progress=False)
    assert (report.optimizer, report.lr) == ("sgd", 0.1)
    report = train(_tiny(), digits, optimizer="adamw", lr=3e-3, epochs=1, batch_size=32,
                   progress=False)
    assert (report.optimizer, report.lr) == ("adamw", 3e-3)
    with pytest.raises(UnknownNameError, match="adam"):
        train(_tiny(), digits, optimizer="adam", epochs=1, progress=False)


def test_train_supernet_records_the_method(tmp_path):
    from hwnas import train_supernet

    report = train_supernet(tmp_path / "s.pt", supernet="tiny_elastic_cnn", epochs=1,
                            method="sorted", method_options={"levels": 3}, progress=False)
    stored = read_checkpoint(tmp_path / "s.pt")["metadata"]["train_report"]
    assert stored["method"] == report.method == "sorted"
    assert load_supernet(tmp_path / "s.pt").space.size() > 1


def test_cli_trains_with_a_chosen_method_and_optimizer(tmp_path):
    """A real `hwnas train` process."""
    out = tmp_path / "p.pt"
    result = subprocess.run(
        [sys.executable, "-m", "hwnas.cli", "train", "--supernet", "tiny_elastic_cnn",
         "--epochs", "1", "--method", "progressive", "--method-option", "n_subnets=2",
         "--optimizer", "adamw", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "with progressive (adamw, lr 0.001)" in result.stdout
    assert read_checkpoint(out)["metadata"]["train_report"]["method"] == "progressive"


def test_cli_names_the_method_a_misspelling_meant(tmp_path, capsys):
    from hwnas.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["train", "--supernet", "tiny_elastic_cnn", "--method", "sortd", "--out",
              str(tmp_path / "x.pt"), "--no-progress"])
    assert exited.value.code == 1
    assert "did you mean 'sorted'" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("method", TRAINING_METHODS.names())
def test_every_registered_method_trains_a_tiny_family_and_ends_ready(digits, method):
    """Registering a method enrols it here: one epoch, then the largest sub-network is
    active, the super-network in eval mode, and the report says what was done."""
    supernet = _tiny()
    report = train(supernet, digits, method=method, epochs=1, batch_size=32, progress=False)
    assert report.method == method and report.steps == 4 and report.subnet_passes >= 4
    assert np.isfinite(report.final_loss) and report.seconds > 0
    assert not supernet.training and supernet.active_config == supernet.space.largest()

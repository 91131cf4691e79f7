"""Bring-your-own super-networks: factories by import path and entry point, explicit inputs
and outputs (tensors, tuples, dicts)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from hwnas.errors import InvalidConfigError, UnknownNameError
from hwnas.supernets import (
    create_supernet,
    data_options,
    file_sha256,
    io,
    load_supernet,
    resolve_supernet_factory,
    save_checkpoint,
    supernet_names,
)


def test_a_factory_by_import_path_from_an_outside_package(byo_path):
    from byo_elastic.mlp import make_supernet

    assert resolve_supernet_factory("byo_elastic.mlp:make_supernet") is make_supernet
    net = create_supernet("byo_elastic.mlp:make_supernet", {"input_size": 5})
    assert net.input_size == 5


def test_a_checkpoint_of_an_outside_super_network_reloads_by_its_import_path(byo_path, tmp_path):
    net = create_supernet("byo_elastic.mlp:make_supernet")
    with torch.no_grad():
        net.head.bias.fill_(0.25)
    path = save_checkpoint(net, tmp_path / "byo.pt", "byo_elastic.mlp:make_supernet", {})
    loaded = load_supernet(path)
    assert type(loaded).__name__ == "ElasticMLP"
    assert torch.equal(loaded.head.bias, net.head.bias)
    assert len(file_sha256(path)) == 64 and file_sha256(path) == file_sha256(path)


@pytest.mark.parametrize("name, message", [
    ("no_such_module.sub:make", "cannot import module 'no_such_module.sub'"),
    ("hwnas.supernets:no_such_factory", "has no 'no_such_factory'"),
    ("hwnas.supernets:ENTRY_POINT_GROUP", "is not callable"),
    ("hwnas.supernets:", "is not of the form"),
])
def test_bad_import_paths_say_what_is_wrong(name, message):
    with pytest.raises(InvalidConfigError, match=message):
        resolve_supernet_factory(name)


def test_an_unknown_name_lists_close_matches_and_the_import_path_form():
    with pytest.raises(UnknownNameError) as caught:
        resolve_supernet_factory("elastic_cn")
    text = str(caught.value)
    assert "did you mean 'elastic_cnn'" in text and "'package.module:factory'" in text


def test_a_misspelt_factory_option_raises():
    with pytest.raises(InvalidConfigError, match="num_clases"):
        create_supernet("tiny_elastic_cnn", {"num_clases": 3})


def test_an_entry_point_registers_a_super_network_in_an_installed_package(byo_env):
    code = ("from hwnas.supernets import create_supernet, supernet_names;"
            "print('byo_mlp' in supernet_names(), type(create_supernet('byo_mlp')).__name__)")
    done = subprocess.run([sys.executable, "-c", code], env=byo_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "ElasticMLP"]
    assert "byo_mlp" not in supernet_names()  # not installed in this process


def test_data_options_pass_only_what_a_factory_declares(byo_path):
    assert data_options("byo_elastic.mlp:make_supernet", (12,), 3) == {
        "input_size": 12, "num_classes": 3}
    assert data_options("elastic_cnn1d", (1, 40), 10) == {
        "in_channels": 1, "input_size": 40, "num_classes": 10}


def test_dict_inputs_and_logits_attributes_go_through_the_helpers(byo_path):
    from byo_elastic.token_model import TokenClassifier

    model = TokenClassifier()
    inputs = io.example_inputs(model, 6)
    assert io.batch_size_of(inputs) == 6
    assert io.input_signature(inputs) == "{ids: (6, 5), mask: (6, 5)}"
    outputs = io.forward(model, inputs)
    assert io.predictions(model, outputs).shape == (6,)
    targets = torch.zeros(6, dtype=torch.long)
    assert io.loss(model, outputs, targets).ndim == 0
    part = io.slice_inputs(inputs, slice(0, 2))
    assert io.batch_size_of(part) == 2
    same = io.batch_of(inputs, 3)
    assert torch.equal(same["ids"][2], inputs["ids"][0])


def test_tuple_inputs_are_positional_arguments(byo_path):
    from byo_elastic.token_model import TokenClassifier

    model = TokenClassifier()
    inputs = (torch.randint(10, (4, 5)), torch.ones(4, 5))
    assert io.forward(model, inputs).logits.shape == (4, 3)
    assert io.input_signature(io.batch_of(inputs, 2)) == "((2, 5), (2, 5))"


def test_a_super_network_may_decode_its_own_outputs_and_loss():
    class Own:
        def predictions(self, outputs):
            return outputs["classes"]

        def loss(self, outputs, targets):
            return torch.tensor(7.0)

    outputs = {"classes": torch.tensor([2, 0])}
    assert io.predictions(Own(), outputs).tolist() == [2, 0]
    assert float(io.loss(Own(), outputs, torch.tensor([0, 1]))) == 7.0


def test_outputs_without_logits_get_a_clear_error():
    with pytest.raises(InvalidConfigError, match="predictions\\(outputs\\)"):
        io.predictions(object(), {"scores": torch.zeros(2, 2)})


def test_a_super_network_without_inputs_says_how_to_give_them():
    with pytest.raises(InvalidConfigError, match="example_input"):
        io.example_inputs(object(), 1)


def test_the_outside_super_network_passes_the_conformance_suite(byo_path):
    from byo_elastic.mlp import make_supernet

    from hwnas.testing.supernets import check_supernet

    check_supernet(make_supernet())


def test_the_conformance_suite_catches_an_extract_that_differs(byo_path):
    from byo_elastic.mlp import make_supernet

    from hwnas.testing.supernets import check_extract_matches_activate

    net = make_supernet()
    extract = net.extract

    def off_by_a_little(config):
        module = extract(config)
        with torch.no_grad():
            module[-1].bias.add_(0.1)
        return module

    net.extract = off_by_a_little
    with pytest.raises(AssertionError, match="differs from the activated super-network"):
        check_extract_matches_activate(net, n_configs=2)

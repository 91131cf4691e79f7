"""Every built-in family, end to end through the API: train briefly on digits, search,
export the chosen sub-network to ONNX and check it against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas import Study, export_subnetwork, train_supernet
from hwnas.supernets.io import forward, logits_of

#: tiny variants whose inputs are images (the tiny BERT takes token ids: see
#: tests/test_huggingface.py)
IMAGE_FAMILIES = ["tiny_elastic_cnn", "tiny_ofa_mobilenet_v3", "tiny_ofa_resnet50",
                  "tiny_hf_vit"]


@pytest.mark.slow
@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_a_family_trains_searches_and_exports(family, tmp_path):
    import onnxruntime as ort

    checkpoint = tmp_path / "supernet.pt"
    train_supernet(checkpoint, supernet=family, dataset="digits", epochs=1, progress=False)
    study = Study.create(tmp_path / "study.db", checkpoint=checkpoint,
                         objectives=["accuracy", "macs"], metrics=["params"],
                         strategy="random", strategy_options={"batch_size": 3})
    study.optimize(3, progress=False)
    finished = study.finished()
    assert len(finished) == 3 and all(r.metrics["params"] > 0 for r in finished)
    trial = finished[0].number
    onnx_file = export_subnetwork(tmp_path / "best.onnx", study=tmp_path / "study.db",
                                  trial=trial)
    program = export_subnetwork(tmp_path / "best.pt2", study=tmp_path / "study.db", trial=trial)
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    x = torch.rand(16, 1, 8, 8)
    name = session.get_inputs()[0].name
    got = session.run(None, {name: x.numpy()})[0]
    inputs = x if name == "input" else {name: x}  # a Hugging Face model takes keywords
    with torch.no_grad():
        expected = logits_of(forward(torch.export.load(program).module(), inputs)).numpy()
    assert got.shape == (16, 10)
    assert np.allclose(got, expected, atol=1e-4)


def test_the_transformer_trains_on_digits_as_rows(tmp_path):
    report = train_supernet(tmp_path / "t.pt", supernet="elastic_transformer",
                            supernet_options={"patch": 8}, dataset="digits", epochs=1,
                            progress=False)
    assert 0.0 <= report.val_accuracy_largest <= 1.0


def _tokens(n: int = 240, seed: int = 0):
    """Token sequences of 8 (vocabulary 100) whose class is the first token's id mod 3."""
    rng = np.random.default_rng(seed)
    x = rng.integers(100, size=(n, 8))
    y = x[:, 0] % 3
    return (x[:150], y[:150]), (x[150:200], y[150:200]), (x[200:], y[200:])


@pytest.mark.slow
@pytest.mark.parametrize("family, method", [("tiny_elastic_cnn1d", "sorted"),
                                            ("tiny_elastic_transformer", "progressive"),
                                            ("tiny_hf_model", "instatune")])
def test_a_sequence_family_trains_searches_and_exports(family, method, tmp_path):
    """The families the image test above leaves out: signals (mnist1d) and token ids (the
    user's arrays), each with another training method."""
    import onnxruntime as ort

    checkpoint = tmp_path / "supernet.pt"
    if family == "tiny_hf_model":
        data = _tokens()
        train_supernet(checkpoint, supernet=family, data=data, epochs=1, method=method,
                       progress=False)
        x = torch.from_numpy(data[2][0][:16])
    else:
        train_supernet(checkpoint, supernet=family, dataset="mnist1d",
                       dataset_options={"num_samples": 300}, epochs=1, method=method,
                       progress=False)
        x = torch.rand(16, 1, 40)
    study = Study.create(tmp_path / "study.db", checkpoint=checkpoint,
                         objectives=["accuracy", "macs"], strategy="random",
                         strategy_options={"batch_size": 3}, data=data
                         if family == "tiny_hf_model" else None)
    study.optimize(3, progress=False)
    trial = study.finished()[0].number
    onnx_file = export_subnetwork(tmp_path / "best.onnx", study=tmp_path / "study.db",
                                  trial=trial, data=data if family == "tiny_hf_model" else None)
    program = export_subnetwork(tmp_path / "best.pt2", study=tmp_path / "study.db",
                                trial=trial, data=data if family == "tiny_hf_model" else None)
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    inputs = {"input_ids": x, "attention_mask": torch.ones_like(x)} if names[0] != "input" \
        else x  # the BERT takes keywords: its token ids and their mask
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()} if names[0] != "input"
                      else {"input": x.numpy()})[0]
    module = torch.export.load(program).module()
    with torch.no_grad():
        expected = logits_of(forward(module, inputs))
    assert np.allclose(got, expected.numpy(), atol=1e-4)


def test_hwnas_list_shows_every_registered_thing_with_a_description(capsys):
    from hwnas.cli import main
    from hwnas.supernets import SUPERNETS
    from hwnas.training import TRAINING_METHODS
    from hwnas.workflow import registered_plugins

    listing = registered_plugins()
    assert [n for n, _ in listing["super-networks"]] == SUPERNETS.names()
    for kind, entries in listing.items():
        for name, description in entries:
            assert description and "\n" not in description and len(description) <= 110, \
                (kind, name)
    def run(*argv: str) -> str:
        with pytest.raises(SystemExit) as exited:
            main(list(argv))
        assert exited.value.code == 0
        return capsys.readouterr().out

    printed = run("list")
    for name in SUPERNETS.names() + TRAINING_METHODS.names():
        assert f"  {name} " in printed
    only = run("list", "training")
    assert "progressive" in only and "elastic_cnn" not in only

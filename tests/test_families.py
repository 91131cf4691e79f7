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

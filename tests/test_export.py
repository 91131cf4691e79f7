"""Exported sub-networks run without hwnas: .pt2 (torch.export), .onnx (dynamic batch), .pt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from hwnas.errors import InvalidConfigError
from hwnas.export import onnx_bytes, write_module
from hwnas.supernets import SUPERNETS, create_supernet
from hwnas.supernets.io import example_inputs, forward, logits_of

SITE_PACKAGES = str(Path(torch.__file__).resolve().parents[1])


def _sub_network(seed: int = 0):
    supernet = create_supernet("tiny_elastic_cnn")
    config = supernet.space.sample(np.random.default_rng(seed))
    return supernet, supernet.extract(config).eval()


def _run_without_hwnas(code: str) -> str:
    """Run ``code`` in a Python without site processing: only torch's site-packages on the
    path, so neither the editable hwnas install nor the source tree can be imported."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.append({SITE_PACKAGES!r})
        try:
            import hwnas
        except ImportError:
            pass
        else:
            raise SystemExit("hwnas is importable: the test would prove nothing")
    """) + textwrap.dedent(code)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True,
                          env=env, cwd="/", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_pt2_loads_with_torch_export_alone_and_takes_any_batch(tmp_path):
    supernet, module = _sub_network()
    path = write_module(module, example_inputs(supernet, 1), tmp_path / "sub.pt2")
    x = torch.randn(16, *supernet.input_shape)
    np.save(tmp_path / "x.npy", x.numpy())
    expected = module(x).detach().numpy()
    out = _run_without_hwnas(f"""
        import numpy, torch
        model = torch.export.load({str(path)!r}).module()
        x = torch.from_numpy(numpy.load({str(tmp_path / 'x.npy')!r}))
        numpy.save({str(tmp_path / 'y.npy')!r}, model(x).detach().numpy())
        print(tuple(model(x[:1]).shape))
    """)
    assert out.split() == ["(1,", "10)"]
    assert np.allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)
    assert oct(path.stat().st_mode & 0o777) == "0o644"


@pytest.mark.slow
def test_pt_loads_with_torch_load_without_hwnas(tmp_path):
    supernet, module = _sub_network(1)
    path = write_module(module, example_inputs(supernet, 1), tmp_path / "sub.pt")
    out = _run_without_hwnas(f"""
        import torch
        model = torch.load({str(path)!r}, weights_only=False)
        print(type(model).__name__, tuple(model(torch.randn(3, 1, 8, 8)).shape))
    """)
    assert out.split() == ["Sequential", "(3,", "10)"]


@pytest.mark.parametrize("family", SUPERNETS.names("tiny_*"))
def test_onnx_has_a_dynamic_batch_and_matches_the_module_on_16(family, tmp_path):
    import onnxruntime as ort

    supernet = create_supernet(family)
    module = supernet.extract(supernet.space.sample(np.random.default_rng(2))).eval()
    path = write_module(module, example_inputs(supernet, 1), tmp_path / "sub.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert all(i.shape[0] == "batch" for i in session.get_inputs())
    inputs = example_inputs(supernet, 16)
    feed = ({k: v.numpy() for k, v in inputs.items()} if isinstance(inputs, dict)
            else {"input": inputs.numpy()})
    got = session.run(None, feed)[0]
    with torch.no_grad():
        expected = logits_of(forward(module, inputs)).numpy()
    assert got.shape == expected.shape and got.shape[0] == 16
    assert np.allclose(got, expected, atol=1e-4)


def test_onnx_of_dict_inputs_names_them_by_key(byo_path):
    import onnx
    from byo_elastic.token_model import LogitsOnly, TokenClassifier

    model = LogitsOnly(TokenClassifier()).eval()
    inputs = model.model.example_input(2)
    graph = onnx.load_from_string(onnx_bytes(model, inputs)).graph
    assert [i.name for i in graph.input] == ["ids", "mask"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert forward(model, inputs).shape == (2, 3)


def test_an_unknown_suffix_is_refused_with_the_formats(tmp_path):
    supernet, module = _sub_network()
    with pytest.raises(InvalidConfigError, match=".pt2, .onnx, .pt"):
        write_module(module, example_inputs(supernet, 1), tmp_path / "sub.tflite")
    assert not (tmp_path / "sub.tflite").exists()


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_checkpoints_and_exports_get_the_umask_and_no_temporary_file(tmp_path, mask):
    from hwnas.supernets import save_checkpoint

    supernet, module = _sub_network()
    previous = os.umask(mask)
    try:
        written = [save_checkpoint(supernet, tmp_path / "c.pt", "elastic_cnn", {}),
                   write_module(module, example_inputs(supernet, 1), tmp_path / "sub.onnx")]
    finally:
        os.umask(previous)
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "sub.onnx"]

"""examples/byo_supernet: the README's commands in real processes (at small sizes), the
API script, and the user's super-network through the conformance suite."""

from __future__ import annotations

import doctest
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "byo_supernet"
SMALL = {"--epochs": "2", "--n-evaluations": "6", "--evaluations": "6"}


@pytest.fixture
def example_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in ("signal_net", "make_data", "search_api"):
        sys.modules.pop(name, None)
    return EXAMPLE


def _commands(section: str) -> list[list[str]]:
    """The command lines of the README's first bash block after ``section``, with the
    training and search sizes made small."""
    text = (EXAMPLE / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text[text.index(section):], re.S).group(1)
    commands = []
    for line in block.splitlines():
        words = shlex.split(line.split("#")[0])
        if not words or words[0] in {"cd", "export"}:
            continue
        words = [SMALL.get(words[i - 1], w) if i else w for i, w in enumerate(words)]
        commands.append(words)
    return commands


@pytest.mark.slow
def test_the_readme_commands_run_end_to_end(tmp_path):
    """train -> search -> show -> export from the CLI (real processes), as the README says."""
    import onnxruntime as ort

    env = {**os.environ, "PYTHONPATH": str(EXAMPLE), "OMP_NUM_THREADS": "1"}
    outputs = []
    commands = _commands("## From the command line")
    assert [c[:2] for c in commands][:3] == [["python", "make_data.py"],
                                             ["hwnas", "info"], ["hwnas", "train"]]
    for words in commands:
        if words[0] == "python":
            words = [sys.executable, str(EXAMPLE / words[1]), *words[2:]]
        else:
            words = [sys.executable, "-m", "hwnas.cli", *words[1:]]
        result = subprocess.run(words, cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, (words, result.stderr[-2000:])
        outputs.append(result.stdout)
    info, trained, searched, shown, config = outputs[1:6]
    assert "258 sub-networks" in info and "trained signal_net:make_supernet" in trained
    assert "hypervolume" in searched and "hypervolume" in shown
    assert json.loads(config)["depth"] in (1, 2, 3)
    onnx_file = tmp_path / "runs" / "cli" / "best.onnx"
    x = np.load(tmp_path / "data.npz")["test_x"][:8]
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert got.shape == (8, 4) and np.isfinite(got).all()


def test_the_api_script_searches_exports_and_matches_onnx(example_path, tmp_path):
    import search_api

    figures = search_api.main(["--out", str(tmp_path), "--epochs", "3", "--evaluations", "6",
                               "--no-latency"])
    assert figures["onnx_difference"] < 1e-4
    assert figures["accuracy"] > 0.3 and figures["front_size"] >= 1


def test_the_users_super_network_passes_the_conformance_suite(example_path):
    import signal_net

    from hwnas.testing.supernets import check_supernet

    assert doctest.testmod(signal_net).failed == 0
    torch.manual_seed(0)
    check_supernet(signal_net.make_supernet())

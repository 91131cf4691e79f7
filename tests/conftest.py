"""Tests run tiny models: one torch thread is fastest and never oversubscribes the cores."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
import torch

torch.set_num_threads(1)
# per-target files (reference latencies, latency tables) go to a folder of this run, never
# to the user's ~/.cache/hwnas; subprocesses inherit it
os.environ["HWNAS_CACHE_DIR"] = tempfile.mkdtemp(prefix="hwnas-test-cache-")
optuna.logging.set_verbosity(optuna.logging.WARNING)

BYO = Path(__file__).resolve().parent / "byo"
"""An outside package with its own super-network, data and evaluator (``byo_elastic``)."""


@pytest.fixture
def byo_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess that sees the outside package ``byo_elastic`` and an
    installed distribution registering ``byo_mlp`` in the ``hwnas.supernets`` entry-point
    group (a real ``*.dist-info`` found by ``importlib.metadata``)."""
    site = tmp_path / "site"
    info = site / "byo_elastic-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: byo-elastic\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[hwnas.supernets]\nbyo_mlp = byo_elastic.mlp:make_supernet\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(BYO), str(site), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def byo_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The outside package importable in this process (``byo_elastic``)."""
    monkeypatch.syspath_prepend(str(BYO))
    yield BYO
    for name in [n for n in sys.modules if n == "byo_elastic" or n.startswith("byo_elastic.")]:
        del sys.modules[name]


@pytest.fixture
def one_torch_thread():
    """torch at one intra-op thread for the test, restored after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def target_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of this test for per-target files (``HWNAS_CACHE_DIR``)."""
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"

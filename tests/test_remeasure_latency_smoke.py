"""benchmarks/tabular/remeasure_latency.py: which rows are one network, and a trial run
(``--limit``) that times real extracted sub-networks, keeps its passes for a resume and leaves
the packaged table alone (no timing asserted: the machine is shared)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TABULAR = Path(__file__).resolve().parents[1] / "benchmarks" / "tabular"
sys.path.insert(0, str(TABULAR))

from build_oneshot_table import RECIPES  # noqa: E402
from remeasure_latency import network_groups  # noqa: E402

from hwnas.tabular import TabularBenchmark  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hwnas" / "benchmark_data"


def test_network_groups_measure_each_cell_network_once_and_share_its_figures():
    table = TabularBenchmark.load(PACKAGE / "mnist1d_cells.npz")
    representatives, group = network_groups(table, RECIPES["mnist1d_cells"].network_key)
    assert len(representatives) == 9445 and group.max() + 1 == 9445
    assert (group[representatives] == np.arange(9445)).all()
    for column in ("latency@b1", "latency@b32", "accuracy"):
        values = table.values([column])[:, 0]
        assert np.array_equal(values, values[representatives][group])


def test_every_blocks_config_is_its_own_network():
    table = TabularBenchmark.load(PACKAGE / "mnist1d_blocks.npz")
    representatives, group = network_groups(table, RECIPES["mnist1d_blocks"].network_key)
    assert np.array_equal(representatives, np.arange(len(table)))
    assert np.array_equal(group, np.arange(len(table)))


@pytest.mark.slow
def test_a_trial_run_keeps_its_passes_and_leaves_the_package_alone(tmp_path):
    packaged = PACKAGE / "mnist1d_blocks.npz"
    before = hashlib.sha256(packaged.read_bytes()).hexdigest()
    command = [sys.executable, str(TABULAR / "remeasure_latency.py"), "mnist1d_blocks",
               "--passes", "2", "--limit", "6", "--run-dir", str(tmp_path)]
    first = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    passes = sorted((tmp_path / "latency_passes_limit6").glob("pass_*.npz"))
    assert [p.name for p in passes] == ["pass_0.npz", "pass_1.npz"]
    with np.load(passes[0]) as archive:
        figures = archive["figures"]
    assert figures.shape == (6, 1) and (figures > 0).all()
    assert "old_vs_new_kendall_tau" in first.stdout and "unchanged" in first.stdout
    again = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    assert again.stdout.count("reusing") == 2
    assert hashlib.sha256(packaged.read_bytes()).hexdigest() == before

"""Smoke test of benchmarks/tabular/latency_repeatability.py: it re-measures real extracted
sub-networks of every packaged table and writes the documented figures (no timing asserted:
the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "tabular" / \
    "latency_repeatability.py"


@pytest.mark.slow
def test_the_script_writes_every_table_column_and_figure(tmp_path):
    output = tmp_path / "repeatability.json"
    subprocess.run([sys.executable, str(SCRIPT), "--networks", "4", "--passes", "2",
                    "--output", str(output)], check=True, capture_output=True, timeout=600)
    written = json.loads(output.read_text())
    assert set(written["tables"]) == {"mnist1d_cells", "mnist1d_blocks", "mnist1d_cnn1d"}
    assert set(written["tables"]["mnist1d_cells"]) == {
        "latency@b1", "latency@b32", "latency@b1 [hwnas robust]"}
    for columns in written["tables"].values():
        for figures in columns.values():
            assert figures["random_networks"] == 4 and figures["front_members"] >= 1
            assert -1 <= figures["pass_to_pass_kendall_tau"] <= 1
            assert figures["front_table_over_remeasured"] > 0
            assert figures["remeasured_median_ms"] > 0

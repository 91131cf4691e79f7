from __future__ import annotations

import csv

import pytest

from hwnas.errors import InvalidConfigError
from hwnas.workflow import parse_config, quickstart


def test_quickstart_writes_study_front_and_plot(tmp_path):
    result = quickstart(tmp_path, n_evaluations=12, epochs=1, progress=False)
    files = result.files
    assert all(path.is_file() for path in files.values())
    assert files["front_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(files["front_csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(result.study.pareto_front()) >= 1
    assert {"accuracy", "latency", "macs", "params", "model_size"} <= set(rows[0])
    assert len(result.study.finished()) == 12
    assert result.seconds > 0


def test_parse_config_reads_text_and_files(tmp_path):
    assert parse_config('{"a": 1}') == {"a": 1}
    path = tmp_path / "c.json"
    path.write_text('{"b": 2}')
    assert parse_config(str(path)) == {"b": 2}
    with pytest.raises(InvalidConfigError, match="not valid JSON"):
        parse_config("{oops")
    with pytest.raises(InvalidConfigError, match="JSON object"):
        parse_config("[1, 2]")

"""`hwnas search --config FILE.toml`: validated keys, flags override the file, and
`--print-config` writes what would run."""

from __future__ import annotations

import pytest
import tomllib
from decision_studies import run_cli

from hwnas.config_file import (
    KEYS,
    effective,
    from_command_line,
    read_config,
    to_arguments,
    to_toml,
)
from hwnas.errors import InvalidConfigError

FILE = """
study = "s.db"
supernet = "tiny_elastic_cnn"
objectives = ["params", {key = "macs@x", kind = "macs"}]
metrics = "model_size"
strategy = "random"
n_evaluations = 5
seed = 3
reference_point = {params = 2000, "macs@x" = 100000}

[strategy_options]
batch_size = 4
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "search.toml"
    path.write_text(FILE)
    return path


def test_a_valid_file_is_read_with_paths_from_its_folder(config):
    values = read_config(config)
    assert values["study"] == str(config.parent / "s.db")
    assert values["objectives"] == ["params", "macs@x:macs"]
    assert values["metrics"] == ["model_size"]
    assert values["strategy_options"] == {"batch_size": 4}
    assert values["reference_point"] == {"params": 2000.0, "macs@x": 100000.0}


@pytest.mark.parametrize("text, fragments", [
    ("n_evaluation = 5", ["unknown key 'n_evaluation'", "did you mean 'n_evaluations'",
                          "Allowed keys: benchmark, checkpoint"]),
    ("seed = '3'", ["'seed' must be an integer", "'3'"]),
    ("quantization = 1", ["'quantization' must be true or false"]),
    ("objectives = [{kind = 'latency'}]", ["needs key ="]),
    ("objectives = [{key = 'l', batch_size = 1}]", ["no kind"]),
    ("reference_point = {accuracy = 'high'}", ["table of numbers"]),
    ("checkpoint = 'a.pt'\nsupernet = 'x'", ["one of checkpoint, supernet, benchmark",
                                             "checkpoint and supernet"]),
    ("benchmark = 'mnist1d_cells'\nsupernet = 'x'", ["supernet and benchmark"]),
    ("seed = ", ["not valid TOML"]),
])
def test_mistakes_are_named(tmp_path, text, fragments):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidConfigError) as raised:
        read_config(path)
    message = str(raised.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, message


def test_toml_round_trip(config):
    values = read_config(config)
    written = config.parent / "again.toml"
    written.write_text(to_toml(values))
    assert read_config(written) == values
    assert set(tomllib.loads(to_toml(values))) == set(values) <= set(KEYS)


def test_flags_given_override_the_file_and_defaults_fill_the_rest(config):
    def run_search(study_path, *, seed=None, n_evaluations=100, overwrite=False,
                   strategy_options=None):
        return None

    flags = from_command_line({"seed": 9, "strategy_option": ["mutation=0.5"],
                               "objective": ["params"], "objectives": "macs"})
    assert flags == {"seed": 9, "strategy_options": {"mutation": 0.5},
                     "objectives": ["params", "macs"]}
    merged = effective(read_config(config), flags, run_search)
    assert merged["seed"] == 9 and merged["n_evaluations"] == 5 and merged["overwrite"] is False
    assert merged["strategy_options"] == {"batch_size": 4, "mutation": 0.5}
    with pytest.raises(InvalidConfigError, match="'supernet' is not supported by this hwnas"):
        to_arguments(merged, run_search)


def test_cli_print_config_and_search_from_the_file(config, capsys):
    assert run_cli("search", "--config", str(config), "--seed", "4", "--print-config") == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert printed["seed"] == 4 and printed["n_evaluations"] == 5
    assert printed["strategy"] == "random" and printed["max_failures"] == 5
    assert run_cli("search", "--config", str(config), "--n-evaluations", "3",
                   "--no-progress") == 0
    from hwnas.study import Study

    study = Study.load(config.parent / "s.db")
    assert len(study.finished()) == 3
    assert study.spec.objective_keys == ["params", "macs@x"] and study.spec.seed == 3
    assert study.spec.strategy == "random" and study.spec.strategy_options == {"batch_size": 4}
    assert study.spec.reference_point == [2000.0, 100000.0]
    capsys.readouterr()
    assert run_cli("search", "--config", str(config.parent / "missing.toml")) == 1

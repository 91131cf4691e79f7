"""benchmarks/study_overhead.py's measurement, smoke-tested small: both ways of storing a
trial run and store what they claim (genes as Optuna parameters, or none)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import optuna

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "study_overhead.py"


def load_script():
    spec = importlib.util.spec_from_file_location("study_overhead", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_machinery_with_and_without_gene_parameters(tmp_path):
    from hwnas.supernets import create_supernet

    script = load_script()
    space = create_supernet("tiny_elastic_cnn").space
    for plain in (False, True):
        run = script.machinery(0, 6, tmp_path, space, plain=plain)
        assert run["wall"] >= run["machinery"] > 0 and run["ms_per_evaluation"] > 0
        path = tmp_path / ("plain0.db" if plain else "params0.db")
        stored = optuna.load_study(study_name="hwnas", storage=f"sqlite:///{path}")
        assert bool(stored.trials[0].params) is not plain
        assert len([t for t in stored.trials if t.state.name == "COMPLETE"]) == 6

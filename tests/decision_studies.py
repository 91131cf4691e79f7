"""Small real studies for the decision tests (report, pick, export, config, docs): two
searches of a tabulated benchmark (a second each) and one of a trained tiny super-network."""

from __future__ import annotations

from pathlib import Path

from hwnas.study import Study


def benchmark_studies(folder: Path, n_evaluations: int = 30) -> tuple[Path, Path]:
    """A LINAS and a random search of ``mnist1d_cnn1d`` (accuracy vs latency, with spreads)."""
    paths = []
    for strategy in ("linas", "random"):
        path = folder / f"{strategy}.db"
        study = Study.create(path, benchmark="mnist1d_cnn1d", strategy=strategy, seed=1)
        study.optimize(n_evaluations, progress=False)
        paths.append(path)
    return paths[0], paths[1]


def trained_study(folder: Path, n_evaluations: int = 8) -> Path:
    """tiny_elastic_cnn trained briefly on digits, searched for accuracy and latency@b1."""
    from hwnas.workflow import run_search, train_supernet

    train_supernet(folder / "supernet.pt", supernet="tiny_elastic_cnn", dataset="digits",
                   epochs=2, seed=2, progress=False)
    run_search(folder / "study.db", checkpoint=folder / "supernet.pt",
               objectives=["accuracy", "latency@b1:latency:batch_size=1,repeats=5"],
               metrics=["params"], strategy="random", n_evaluations=n_evaluations, seed=7,
               progress=False)
    return folder / "study.db"


def run_cli(*args: str) -> int:
    """Run ``hwnas ARGS`` in this process; returns the exit code."""
    from hwnas.cli import main

    try:
        main(list(args))
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0

"""What does the machinery around a measurement cost? Storage against the quickstart.

Targets: Optuna's storage costs no more than 5% of a search's wall time (issue 3), and
storing every gene as an Optuna parameter with its distribution plus the objectives' metric
names, so optuna-dashboard shows a study fully, keeps the storage under 5% of the
quickstart's wall time (issue 19).

Three measurements:

1. **The quickstart itself** (``hwnas quickstart``: train elastic_cnn 30 epochs on digits,
   200 NSGA-II evaluations of accuracy and latency; seed 0): its wall time split into
   training, evaluation, strategy, and everything else (storage and bookkeeping).
2. **Storage per evaluation, genes as parameters vs the plain way**: the quickstart's search
   (its space, NSGA-II with population 20, the five figures it records, an SQLite study)
   with an evaluator that returns at once, so the wall time is the machinery alone; once as
   hwnas stores trials (genes as Optuna parameters with distributions, metric names) and
   once the plain way (the config only in a user attribute), over ``--seeds`` seeds. The
   difference is the cost of a fully shown dashboard.
3. The share: the machinery's seconds per evaluation (2) times the quickstart's 200
   evaluations, over the quickstart's wall time (1); the worst seed is quoted.

    flock /work/bench.lock .venv/bin/python benchmarks/study_overhead.py [--seeds 10]
    .venv/bin/python benchmarks/study_overhead.py --quick     # a smoke run, ~1 minute
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import optuna
import torch
from rich.console import Console
from rich.table import Table

from hwnas.measure import Measurement
from hwnas.report import plot_front, write_front_csv
from hwnas.report.machine import machine_facts
from hwnas.study import Study
from hwnas.study.params import GeneParams
from hwnas.supernets import create_supernet
from hwnas.workflow import QUICKSTART_OBJECTIVES, run_search, train_supernet


def instant_evaluator(config: dict) -> dict[str, Measurement]:
    """Figures that depend on the config (so NSGA-II has a front to work on) at no cost."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).digest()
    a, b = digest[0] / 255, digest[1] / 255
    return {"accuracy": Measurement(0.5 + 0.5 * a), "latency": Measurement(0.1 + a + 0.2 * b,
                                                                           0.01),
            "macs": Measurement(1e6 * (1 + a)), "params": Measurement(1e4 * (1 + b)),
            "model_size": Measurement(4e4 * (1 + b))}


@contextmanager
def genes_as_user_attribute_only():
    """The plain way: no Optuna parameters (the config stays in the proposal attribute)."""
    original = GeneParams.of
    GeneParams.of = lambda self, config: ({}, {})
    try:
        yield
    finally:
        GeneParams.of = original


def machinery(seed: int, evaluations: int, folder: Path, space, plain: bool
              ) -> dict[str, float]:
    """One search with the instant evaluator: seconds of wall, strategy and the rest."""
    path = folder / f"{'plain' if plain else 'params'}{seed}.db"
    context = genes_as_user_attribute_only() if plain else nullcontext()
    with context:
        study = Study.create(path, space=space, evaluator=instant_evaluator,
                             objectives=["accuracy", "latency"],
                             metrics=["macs", "params", "model_size"], strategy="nsga2",
                             strategy_options={"population_size": 20}, seed=seed)
        start = time.perf_counter()
        study.optimize(evaluations, progress=False)
        wall = time.perf_counter() - start
    stored = optuna.load_study(study_name="hwnas", storage=f"sqlite:///{path}")
    has_params = bool(stored.trials[0].params)
    if has_params == plain:
        raise AssertionError(f"the {'plain' if plain else 'params'} run stored params="
                             f"{has_params}")
    return {"wall": wall, "strategy": study.seconds["strategy"],
            "evaluate": study.seconds["evaluate"],
            "machinery": wall - study.seconds["strategy"] - study.seconds["evaluate"],
            "ms_per_evaluation": 1e3 * (wall - study.seconds["strategy"]
                                        - study.seconds["evaluate"]) / evaluations}


def run_quickstart(epochs: int | None, evaluations: int, seed: int = 0) -> dict[str, float]:
    """The quickstart's three steps (as :func:`hwnas.workflow.quickstart` runs them), each
    timed: training, the search (split by the study into evaluation, strategy, storage
    writes, and the rest: study creation, evaluator build, claims, bookkeeping), files."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        start = time.perf_counter()
        train_supernet(out / "supernet.pt", supernet="elastic_cnn", dataset="digits",
                       epochs=epochs or 30, seed=seed, progress=False)
        trained = time.perf_counter()
        study = run_search(out / "study.db", checkpoint=out / "supernet.pt",
                           objectives=QUICKSTART_OBJECTIVES, n_evaluations=evaluations,
                           seed=seed, overwrite=True, strategy_options={"population_size": 20},
                           progress=False)
        searched = time.perf_counter()
        write_front_csv(study, out / "pareto_front.csv")
        plot_front(study, out / "pareto_front.png")
        done = time.perf_counter()
        seconds = dict(study.seconds)
    wall, search = done - start, searched - trained
    machinery = search - seconds["evaluate"] - seconds["strategy"]
    return {"wall": wall, "train": trained - start, "search": search,
            "evaluate": seconds["evaluate"], "strategy": seconds["strategy"],
            "storage_writes": seconds["storage"], "search_machinery": machinery,
            "files": done - searched, "evaluations": evaluations, "epochs": epochs or 30,
            "storage_writes_share": seconds["storage"] / wall,
            "storage_share": machinery / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=200,
                        help="evaluations per search (the quickstart's 200)")
    parser.add_argument("--quickstart-seconds", type=float, default=None,
                        help="use this quickstart wall time instead of running it")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 seeds of 30, a 1-epoch 20-evaluation quickstart")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.evaluations = 2, 30
    out = args.out or Path("benchmarks/results/"
                           f"study_overhead{'_quick' if args.quick else ''}.json")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    before = machine_facts()
    space = create_supernet("elastic_cnn").space
    runs: dict[str, list[dict[str, float]]] = {"params": [], "plain": []}
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
            for variant in ("params", "plain"):  # interleaved: both see the same load
                runs[variant].append(machinery(seed, args.evaluations, Path(folder), space,
                                               plain=variant == "plain"))
    if args.quickstart_seconds is not None:
        quick = {"wall": args.quickstart_seconds, "given": True}
    elif args.quick:
        quick = run_quickstart(epochs=1, evaluations=20)
    else:
        quick = run_quickstart(epochs=None, evaluations=args.evaluations)
    after = machine_facts()

    console = Console()
    table = Table(title=f"machinery per evaluation ({args.evaluations} evaluations, "
                        f"{args.seeds} seeds, SQLite, instant evaluator)")
    for column in ("storage", "median ms/eval", "IQR", "worst ms/eval", "strategy s (median)"):
        table.add_column(column, justify="right")
    summary = {}
    for variant, label in (("params", "genes as params + metric names"),
                           ("plain", "plain (config as user attr)")):
        per = np.array([r["ms_per_evaluation"] for r in runs[variant]])
        q1, q3 = np.percentile(per, [25, 75])
        summary[variant] = {"median_ms": float(np.median(per)), "iqr_ms": float(q3 - q1),
                            "worst_ms": float(per.max())}
        table.add_row(label, f"{np.median(per):.2f}", f"{q3 - q1:.2f}", f"{per.max():.2f}",
                      f"{np.median([r['strategy'] for r in runs[variant]]):.3f}")
    console.print(table)
    paired = np.array([p["ms_per_evaluation"] - q["ms_per_evaluation"]
                       for p, q in zip(runs["params"], runs["plain"])])
    quick_evaluations = 20 if args.quick else 200
    worst_share = summary["params"]["worst_ms"] * 1e-3 * quick_evaluations / quick["wall"]
    median_share = summary["params"]["median_ms"] * 1e-3 * quick_evaluations / quick["wall"]
    extra_share = float(np.median(paired)) * 1e-3 * quick_evaluations / quick["wall"]
    console.print(f"genes as parameters cost {np.median(paired):+.2f} ms per evaluation "
                  f"(median of {args.seeds} paired seeds; IQR "
                  f"{np.subtract(*np.percentile(paired, [75, 25])):.2f} ms)")
    if "train" in quick:
        console.print(f"quickstart ({quick['epochs']} epochs, {quick['evaluations']} "
                      f"evaluations): {quick['wall']:.1f} s = training {quick['train']:.1f} + "
                      f"search {quick['search']:.1f} (evaluation {quick['evaluate']:.1f}, "
                      f"strategy {quick['strategy']:.2f}, machinery "
                      f"{quick['search_machinery']:.1f} of which result writes "
                      f"{quick['storage_writes']:.2f}) + files {quick['files']:.1f} s; "
                      f"search machinery {100 * quick['storage_share']:.2f}% of the wall time")
    met = worst_share <= 0.05 and quick.get("storage_share", 0.0) <= 0.05
    console.print(f"storage of {quick_evaluations} evaluations (genes as params) over the "
                  f"quickstart's {quick['wall']:.0f} s: median {100 * median_share:.2f}%, "
                  f"worst seed {100 * worst_share:.2f}% (params alone "
                  f"{100 * extra_share:+.2f}%) -> target (<= 5%): {'MET' if met else 'MISSED'}")
    console.print(f"machine: {before['cpu']} {before['cpu_flags']}, {before['logical_cpus']} "
                  f"CPUs, load average {before['load_average']} -> {after['load_average']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "evaluations": args.evaluations, "seeds": args.seeds, "runs": runs,
        "summary": summary, "params_extra_ms_median": float(np.median(paired)),
        "quickstart": quick, "objectives": list(QUICKSTART_OBJECTIVES),
        "storage_share_of_quickstart": {"median": median_share, "worst": worst_share,
                                        "params_alone": extra_share},
        "target_met": met, "machine_before": before, "machine_after": after}, indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()

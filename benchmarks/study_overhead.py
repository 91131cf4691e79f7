"""What does the machinery around a measurement cost? Storage and strategy vs evaluation.

Target (issue 3): Optuna's storage costs no more than 5% of a search's wall time. The script
runs real searches of the quickstart super-network (accuracy on digits with batch-norm
recalibration, latency, MACs, params, size; NSGA-II) into an SQLite study, and splits the
wall time into evaluation, strategy, and everything else (storage and bookkeeping), over
several seeds.

    .venv/bin/python benchmarks/study_overhead.py [--evaluations 60] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from rich.console import Console
from rich.table import Table

from hwnas.data import load_dataset
from hwnas.study import Study
from hwnas.supernets import create_supernet


def one_search(seed: int, evaluations: int, folder: Path) -> dict[str, float]:
    torch.manual_seed(seed)
    supernet = create_supernet("elastic_cnn").eval()
    study = Study.create(folder / f"study{seed}.db", supernet=supernet, dataset="digits",
                         objectives=["accuracy", "latency"], strategy="nsga2",
                         strategy_options={"population_size": 20}, seed=seed)
    start = time.perf_counter()
    study.optimize(evaluations, progress=False)
    wall = time.perf_counter() - start
    evaluate, strategy = study.seconds["evaluate"], study.seconds["strategy"]
    return {"wall": wall, "evaluate": evaluate, "strategy": strategy,
            "overhead": wall - evaluate - strategy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/study_overhead.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load_dataset("digits")  # outside the timed part
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
            runs.append(one_search(seed, args.evaluations, Path(folder)))
    table = Table(title=f"search wall time split ({args.evaluations} evaluations, SQLite)")
    for column in ("seed", "wall (s)", "evaluation", "strategy", "storage + rest", "share"):
        table.add_column(column, justify="right")
    for seed, run in enumerate(runs):
        table.add_row(str(seed), f"{run['wall']:.2f}", f"{run['evaluate']:.2f}",
                      f"{run['strategy']:.3f}", f"{run['overhead']:.3f}",
                      f"{100 * run['overhead'] / run['wall']:.2f}%")
    console = Console()
    console.print(table)
    shares = [r["overhead"] / r["wall"] for r in runs]
    per_trial_ms = [1e3 * r["overhead"] / args.evaluations for r in runs]
    worst = max(shares)
    console.print(f"storage and bookkeeping: median {100 * np.median(shares):.2f}% of wall time "
                  f"({np.median(per_trial_ms):.1f} ms per evaluation), worst "
                  f"{100 * worst:.2f}% -> target (<= 5%): {'MET' if worst <= 0.05 else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"evaluations": args.evaluations, "runs": runs,
                                    "median_share": float(np.median(shares)),
                                    "worst_share": worst,
                                    "median_ms_per_evaluation": float(np.median(per_trial_ms)),
                                    "target_met": worst <= 0.05}, indent=2))


if __name__ == "__main__":
    main()

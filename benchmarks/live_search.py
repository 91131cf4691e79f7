"""Does the tabulated result carry over to real measurements? linas vs nsga2 vs random.

Issue 4, part 5: on the live mnist1d super-network (real accuracy with batch-norm
recalibration, real latency on this CPU), each strategy runs 200 evaluations for 3 seeds
into its own SQLite study. Hypervolume is computed against one fixed reference point (the
worst accuracy and latency seen over all runs) after 50, 100 and 200 evaluations. The
strategy's own time (predictor fitting and inner search) is reported per proposed
sub-network and as a share of the search's wall time (target: under 5% for linas).

    .venv/bin/python benchmarks/live_search.py [--checkpoint runs/tabular/cnn1d_bench_mnist1d.pt]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from rich.console import Console
from rich.table import Table

from hwnas.pareto import hypervolume
from hwnas.study import Study
from hwnas.supernets import load_supernet

DIRECTIONS = ["maximize", "minimize"]
CHECKPOINTS = (50, 100, 200)


def run(method: str, seed: int, checkpoint: Path, evaluations: int, folder: Path) -> dict:
    supernet = load_supernet(checkpoint)
    study = Study.create(folder / f"{method}-{seed}.db", supernet=supernet,
                         checkpoint=checkpoint, dataset="mnist1d",
                         objectives=["accuracy", "latency"], metrics=["macs", "params"],
                         strategy=method, seed=seed, overwrite=True)
    start = time.perf_counter()
    study.optimize(evaluations, progress=False)
    wall = time.perf_counter() - start
    return {"values": [list(r.values) for r in study.finished()], "wall": wall,
            "strategy_seconds": study.seconds["strategy"],
            "evaluate_seconds": study.seconds["evaluate"],
            "proposed": len(study.results())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path,
                        default=Path("runs/tabular/cnn1d_bench_mnist1d.pt"))
    parser.add_argument("--methods", default="random,nsga2,linas")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--folder", type=Path, default=Path("runs/live_search"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/live_search.json"))
    args = parser.parse_args()
    if not args.checkpoint.is_file():
        raise SystemExit(f"{args.checkpoint} is missing: build it with "
                         "benchmarks/tabular/build_mnist1d_table.py (it trains the super-network)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    methods = args.methods.split(",")
    runs = {m: [run(m, s, args.checkpoint, args.evaluations, args.folder)
                for s in range(args.seeds)] for m in methods}
    everything = np.concatenate([np.array(r["values"]) for rs in runs.values() for r in rs])
    reference = [float(everything[:, 0].min()), float(everything[:, 1].max())]
    summary = {}
    table = Table(title=f"live search, {args.seeds} seeds, hypervolume vs reference "
                        f"(accuracy {reference[0]:.3f}, latency {reference[1]:.3f} ms)")
    table.add_column("method")
    for k in CHECKPOINTS:
        table.add_column(f"HV@{k} (median)", justify="right")
    table.add_column("strategy ms / proposal", justify="right")
    table.add_column("strategy share of wall", justify="right")
    for method, method_runs in runs.items():
        hv = {str(k): float(np.median([hypervolume(np.array(r["values"][:k]), DIRECTIONS,
                                                   reference) for r in method_runs]))
              for k in CHECKPOINTS}
        per_proposal = float(np.median([1e3 * r["strategy_seconds"] / r["proposed"]
                                        for r in method_runs]))
        share = float(np.median([r["strategy_seconds"] / r["wall"] for r in method_runs]))
        summary[method] = {"hypervolume": hv, "strategy_ms_per_proposal": per_proposal,
                           "strategy_share_of_wall": share,
                           "wall_seconds": [r["wall"] for r in method_runs]}
        table.add_row(method, *[f"{hv[str(k)]:.4f}" for k in CHECKPOINTS],
                      f"{per_proposal:.1f}", f"{100 * share:.2f}%")
    console = Console()
    console.print(table)
    if "linas" in summary:
        share = summary["linas"]["strategy_share_of_wall"]
        console.print(f"linas strategy time {100 * share:.2f}% of wall time -> target (< 5%): "
                      f"{'MET' if share < 0.05 else 'MISSED'}")
        for other in summary:
            if other != "linas":
                ahead = [summary["linas"]["hypervolume"][str(k)] >=
                         summary[other]["hypervolume"][str(k)] for k in CHECKPOINTS]
                console.print(f"linas >= {other} at {CHECKPOINTS}: {ahead}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seeds": args.seeds, "evaluations": args.evaluations,
                                    "reference_point": reference, "methods": summary},
                                   indent=2))


if __name__ == "__main__":
    main()

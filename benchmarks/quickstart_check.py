"""The quickstart's quality bars, measured: run `hwnas quickstart` for several seeds.

Targets (issue 3): largest sub-network >= 98% and smallest >= 93% test accuracy on digits
after training; a Pareto front of >= 5 distinct sub-networks spanning >= 2x latency; the
whole quickstart in under 3 minutes on a 2-core machine.

    .venv/bin/python benchmarks/quickstart_check.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import optuna
from rich.console import Console
from rich.table import Table

from hwnas.workflow import quickstart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="default: quickstart's")
    parser.add_argument("--out", type=Path,
                        default=Path("benchmarks/results/quickstart_check.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            options = {} if args.epochs is None else {"epochs": args.epochs}
            result = quickstart(folder, seed=seed, progress=False, **options)
            front = result.study.pareto_front()
            latencies = [r.metrics["latency"] for r in front]
            rows.append({
                "seed": seed, "seconds": result.seconds,
                "train_seconds": result.train_report.seconds,
                "largest_test_accuracy": result.train_report.test_accuracy_largest,
                "smallest_test_accuracy": result.train_report.test_accuracy_smallest,
                "front_size": len({r.arch_id for r in front}),
                "front_latency_ratio": max(latencies) / min(latencies),
                "hypervolume": result.study.hypervolume(),
            })
    table = Table(title="hwnas quickstart, measured")
    for column in ("seed", "total (s)", "training (s)", "largest test acc", "smallest test acc",
                   "front size", "front latency range"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row["seed"]), f"{row['seconds']:.1f}", f"{row['train_seconds']:.1f}",
                      f"{100 * row['largest_test_accuracy']:.2f}%",
                      f"{100 * row['smallest_test_accuracy']:.2f}%", str(row["front_size"]),
                      f"{row['front_latency_ratio']:.2f}x")
    console = Console()
    console.print(table)
    checks = {
        "largest >= 98%": all(r["largest_test_accuracy"] >= 0.98 for r in rows),
        "smallest >= 93%": all(r["smallest_test_accuracy"] >= 0.93 for r in rows),
        "front >= 5 distinct": all(r["front_size"] >= 5 for r in rows),
        "front spans >= 2x latency": all(r["front_latency_ratio"] >= 2 for r in rows),
        "under 180 s": all(r["seconds"] < 180 for r in rows),
    }
    for name, ok in checks.items():
        console.print(f"{name}: {'MET' if ok else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": rows, "checks": checks}, indent=2))


if __name__ == "__main__":
    main()

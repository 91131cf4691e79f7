"""Is a latency measurement repeatable? Measure the same sub-networks twice, compare medians.

Target (issues 3 and 17): two measurements of the same sub-network's median latency agree within 5%.
For several sub-networks of the quickstart super-network (smallest, largest and random ones),
the script measures latency with the default settings twice, some time apart (the other
sub-networks in between), over several rounds, and prints the relative difference of the two
medians for each: the worst and the median difference are the figures.

    .venv/bin/python benchmarks/latency_stability.py [--subnetworks 8] [--rounds 3]
        [--method robust|median] [--quick]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from hwnas.measure import LatencyMeasure, MeasureContext
from hwnas.measure.hardware import load_average, machine_description
from hwnas.supernets import create_supernet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subnetworks", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--method", default="robust", choices=["robust", "median"])
    parser.add_argument("--quick", action="store_true", help="4 sub-networks, 1 round")
    parser.add_argument("--out", type=Path,
                        default=Path("benchmarks/results/latency_stability.json"))
    args = parser.parse_args()
    if args.quick:
        args.subnetworks, args.rounds = 4, 1
        args.out = args.out.with_name("latency_stability_quick.json")
    torch.set_num_threads(1)
    load_before = load_average()

    supernet = create_supernet("elastic_cnn").eval()
    rng = np.random.default_rng(0)
    configs = [supernet.space.smallest(), supernet.space.largest()]
    configs += [supernet.space.sample(rng) for _ in range(args.subnetworks - 2)]
    models = [supernet.extract(c).eval() for c in configs]
    measure = LatencyMeasure(backend=args.backend, method=args.method)
    context = MeasureContext(supernet.example_input(1), supernet=supernet)
    differences = []
    table = Table(title=f"latency measured twice ({args.backend}, {args.method} method)")
    for column in ("round", "sub-network", "first (ms)", "second (ms)", "difference"):
        table.add_column(column, justify="right")
    for round_index in range(args.rounds):
        first = [measure(m, context).value for m in models]
        second = [measure(m, context).value for m in models]
        for index, (a, b) in enumerate(zip(first, second)):
            difference = abs(a - b) / min(a, b)
            differences.append(difference)
            table.add_row(str(round_index), str(index), f"{a:.4f}", f"{b:.4f}",
                          f"{100 * difference:.2f}%")
    console = Console()
    console.print(table)
    worst, median = max(differences), float(np.median(differences))
    verdict = "MET" if worst <= 0.05 else "MISSED"
    console.print(f"median difference {100 * median:.2f}%, worst {100 * worst:.2f}% "
                  f"over {len(differences)} pairs -> target (worst <= 5%): {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"backend": args.backend, "method": args.method,
                                    "pairs": len(differences),
                                    "median_difference": median, "worst_difference": worst,
                                    "target_met": worst <= 0.05,
                                    "machine": {**machine_description(),
                                                "load_average_before": load_before,
                                                "load_average_after": load_average()}},
                                   indent=2))


if __name__ == "__main__":
    main()

"""How much of a table's latency column a second measurement repeats: the noise floor of the
search suite's true fronts.

For each table, ``--networks`` distinct sub-networks drawn at random and every member of
each task's true front are measured again ``--passes`` times, each pass over all of them in
a new random order, with the settings the table was built with (the one-shot tables:
``oneshot.LatencySettings`` as their metadata records; cnn1d: ``hwnas.measure.LatencyMeasure``
with the builder's settings and the median method it was built with), and on cells also with
the live search's ``robust`` method (no reference network). Latency does not depend on the
weights, so the super-network is built untrained. Printed and written to
``benchmarks/results/latency_repeatability.json``:

- ``pass_to_pass_kendall_tau``: median over pairs of passes of the Kendall tau between two
  idle re-measurements of the random networks (the best any predictor of one measurement
  can rank another);
- ``table_vs_pass_kendall_tau``: median over passes of the tau between the table's figure
  and a re-measurement;
- ``front_table_over_remeasured`` / ``random_table_over_remeasured``: median over networks
  of the table's figure divided by the median of its re-measurements, for the true front's
  members and for the random networks. A front whose members were measured luckily fast
  (the winner's curse of a noisy column) shows a smaller ratio than the random networks.

    .venv/bin/python benchmarks/tabular/latency_repeatability.py            # ~3 min idle
    .venv/bin/python benchmarks/tabular/latency_repeatability.py --networks 40 --passes 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent))

from blocks import BlockSupernet  # noqa: E402
from build_mnist1d_table import LATENCY_SETTINGS, SUPERNET  # noqa: E402
from build_oneshot_table import BLOCK_WIDTHS, CELL_WIDTHS  # noqa: E402
from cells import CellSupernet  # noqa: E402
from oneshot import (  # noqa: E402
    LatencySettings,
    example_input,
    load_average,
    machine_info,
    repeated,
)

from hwnas.measure import LatencyMeasure  # noqa: E402
from hwnas.measure.base import MeasureContext  # noqa: E402
from hwnas.supernets import create_supernet  # noqa: E402
from hwnas.tabular import TabularBenchmark, load_benchmark  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "benchmarks" / "results" / "latency_repeatability.json"

#: a timer of one extracted network: ``timer(model) -> ms``
Timer = Callable[[torch.nn.Module], float]


def oneshot_timer(table: TabularBenchmark, supernet: Any, column: str) -> Timer:
    """The one-shot tables' measurement of ``column``, with the settings in its metadata."""
    recorded = table.metadata["measures"][column]
    settings = LatencySettings.recorded(recorded)
    batch = repeated(example_input(supernet.input_shape, seed=0), recorded["batch_size"])
    return lambda model: settings.measure(model, batch)[0]


def measure_timer(supernet: Any, **settings: Any) -> Timer:
    """hwnas's ``LatencyMeasure`` with ``settings``, without a reference network."""
    measure = LatencyMeasure(**settings)
    context = MeasureContext(example_inputs=torch.randn((1, *supernet.input_shape)))
    return lambda model: measure(model, context).value


def tables() -> dict[str, tuple[TabularBenchmark, Any, dict[str, tuple[str, Timer]]]]:
    """Per table: the table, an untrained super-network of its space, and per label a
    column and a timer (the table's own measurement, and on cells the live search's robust
    one, to show what a rebuild with it would repeat)."""
    torch.manual_seed(0)
    cells = load_benchmark("mnist1d_cells")
    blocks = load_benchmark("mnist1d_blocks")
    cnn1d = load_benchmark("mnist1d_cnn1d")
    cells_net, blocks_net = CellSupernet(widths=CELL_WIDTHS), BlockSupernet(widths=BLOCK_WIDTHS)
    cnn1d_net = create_supernet(SUPERNET)
    return {
        "mnist1d_cells": (cells, cells_net, {
            "latency@b1": ("latency@b1", oneshot_timer(cells, cells_net, "latency@b1")),
            "latency@b32": ("latency@b32", oneshot_timer(cells, cells_net, "latency@b32")),
            "latency@b1 [hwnas robust]": ("latency@b1", measure_timer(cells_net))}),
        "mnist1d_blocks": (blocks, blocks_net,
                           {"latency": ("latency", oneshot_timer(blocks, blocks_net, "latency"))}),
        # the builder's settings name the method the table was built with
        "mnist1d_cnn1d": (cnn1d, cnn1d_net, {"latency": (
            "latency", measure_timer(cnn1d_net, **LATENCY_SETTINGS))}),
    }


def study_table(name: str, table: TabularBenchmark, supernet: Any,
                timers: dict[str, tuple[str, Timer]],
                networks: int, passes: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    random_rows = rng.choice(len(table), size=min(networks, len(table)), replace=False)
    report: dict[str, Any] = {}
    for label, (column, timer) in timers.items():
        fronts = table.pareto_front([("accuracy", "maximize"), (column, "minimize")])
        rows = np.unique(np.concatenate([random_rows, fronts]))
        models = {int(r): supernet.extract(table.config(int(r))).eval() for r in rows}
        measured = np.zeros((passes, len(rows)))
        for p in range(passes):
            for i in rng.permutation(len(rows)):
                measured[p, i] = timer(models[int(rows[i])])
        listed = table.values([column])[rows, 0]
        is_random = np.isin(rows, random_rows)
        is_front = np.isin(rows, fronts)
        pairs = list(itertools.combinations(range(passes), 2))
        pass_tau = [kendalltau(measured[a, is_random], measured[b, is_random])[0]
                    for a, b in pairs]
        table_tau = [kendalltau(listed[is_random], measured[p, is_random])[0]
                     for p in range(passes)]
        ratio = listed / np.median(measured, axis=0)
        report[label] = {"column": column,
            "random_networks": int(is_random.sum()), "front_members": int(is_front.sum()),
            "passes": passes,
            "pass_to_pass_kendall_tau": float(np.median(pass_tau)),
            "table_vs_pass_kendall_tau": float(np.median(table_tau)),
            "front_table_over_remeasured": float(np.median(ratio[is_front])),
            "random_table_over_remeasured": float(np.median(ratio[is_random])),
            "remeasured_median_ms": float(np.median(measured[:, is_random])),
        }
        print(f"{name} {label}: " + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in report[label].items()), flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=300, help="random networks per table")
    parser.add_argument("--passes", type=int, default=3, help="re-measurements of each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started, load_before = time.perf_counter(), load_average()
    results = {name: study_table(name, *parts, args.networks, args.passes, args.seed)
               for name, parts in tables().items()}
    payload = {"tables": results, "networks": args.networks, "passes": args.passes,
               "seed": args.seed, "seconds": round(time.perf_counter() - started, 1),
               "load_before": load_before, "load_after": load_average(),
               "machine": machine_info()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

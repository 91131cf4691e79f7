"""Re-measure the latency columns of a one-shot table on a quiet machine (resumable).

    .venv/bin/python benchmarks/tabular/remeasure_latency.py mnist1d_cells      # ~19 min idle
    .venv/bin/python benchmarks/tabular/remeasure_latency.py mnist1d_blocks     # ~6 min idle
    .venv/bin/python benchmarks/tabular/remeasure_latency.py mnist1d_cells --passes 2 --limit 200

The one-shot tables were first built beside four other agents' jobs (load average 12-19 on
two cores), and their latency columns repeated poorly: on an idle machine two
re-measurements of the same 150 random cells ranked them with Kendall tau 0.91, while the
first column ranked them against either with tau 0.46-0.51 (``latency_repeatability.py``),
and the true fronts were made of luckily fast measurements (front members' table figure /
re-measured 0.53-0.69, random networks' 0.92-1.21). This script rewrote both packaged
columns (``--passes 5``, 2026-12-03). Accuracy, MACs and params do not depend on load and
are kept.

Every distinct network of the table (``build_oneshot_table.RECIPES[table].network_key``)
is timed ``--passes`` times, each pass over all of them in its own seeded random order (so
a slow drift of the machine spreads over the whole space instead of one region of it),
with the table's recorded ``oneshot.LatencySettings`` (the fastest of its samples; one
thread). Latency does not depend on the weights, so the super-network is built untrained.
The new figure is the median over passes, its spread the passes' IQR; the table is
rewritten in place with the old columns' agreement and the load during each pass in its
metadata (``latency_rebuild``). A finished pass is kept in
``runs/tabular/<table>/latency_passes/``: rerunning the command skips it.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_oneshot_table import RECIPES, log  # noqa: E402
from oneshot import (  # noqa: E402
    LatencySettings,
    example_input,
    load_average,
    machine_info,
    repeated,
)

from hwnas.tabular import TabularBenchmark  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def network_groups(table: TabularBenchmark, key: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(representatives, group_of_row)``: one row per distinct network, and for every row
    the index of its network among the representatives."""
    keys = [key(table.config(row)) for row in range(len(table))]
    if all(k is None for k in keys):  # every config is a network of its own
        return np.arange(len(table)), np.arange(len(table))
    first_row: dict[Any, int] = {}  # insertion order: the networks' order
    for row, k in enumerate(keys):
        first_row.setdefault(k, row)
    number = {k: index for index, k in enumerate(first_row)}
    return (np.fromiter(first_row.values(), dtype=np.int64),
            np.array([number[k] for k in keys], dtype=np.int64))


def timed_pass(models: list[torch.nn.Module], batches: dict[str, torch.Tensor],
               settings: LatencySettings, order: np.ndarray) -> np.ndarray:
    """``(networks, columns)`` fastest-sample figures, measured in ``order``."""
    figures = np.full((len(models), len(batches)), np.nan)
    for done, index in enumerate(order):
        for column, batch in enumerate(batches.values()):
            figures[index, column] = settings.measure(models[index], batch)[0]
        if (done + 1) % 2000 == 0:
            log(f"  {done + 1} of {len(order)} networks (load {load_average()})")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=sorted(RECIPES))
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="the passes' orders, the input")
    parser.add_argument("--limit", type=int, default=None,
                        help="only N networks, a trial: nothing is written to the package")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="default: runs/tabular/<table>")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    recipe = RECIPES[args.table]
    path = ROOT / "src" / "hwnas" / "benchmark_data" / f"{args.table}.npz"
    table = TabularBenchmark.load(path)
    columns = list(recipe.latency_batches)
    settings = LatencySettings.recorded(table.metadata["measures"][columns[0]])
    representatives, group = network_groups(table, recipe.network_key)
    if args.limit is not None:
        representatives = representatives[:args.limit]
    torch.manual_seed(args.seed)
    supernet = recipe.make_supernet().eval()
    models = [supernet.extract(table.config(int(row))).eval() for row in representatives]
    example = example_input(supernet.input_shape, args.seed)
    batches = {name: repeated(example, size) for name, size in recipe.latency_batches.items()}
    folder = (args.run_dir or ROOT / "runs" / "tabular" / args.table) / (
        "latency_passes" if args.limit is None else f"latency_passes_limit{args.limit}")
    folder.mkdir(parents=True, exist_ok=True)
    log(f"{len(models)} networks of {len(table)} rows, {len(columns)} columns, "
        f"{args.passes} passes into {folder}")
    passes, infos = [], []
    for number in range(args.passes):
        stored = folder / f"pass_{number}.npz"
        if stored.is_file():
            with np.load(stored) as archive:
                passes.append(archive["figures"])
                infos.append(json.loads(str(archive["info"])))
            log(f"pass {number}: reusing {stored}")
            continue
        order = np.random.default_rng([args.seed, number]).permutation(len(models))
        started, load_before = time.perf_counter(), load_average()
        figures = timed_pass(models, batches, settings, order)
        info = {"seconds": round(time.perf_counter() - started, 1),
                "load_before": load_before, "load_after": load_average()}
        temporary = folder / f".pass_{number}.tmp.npz"
        np.savez(temporary, figures=figures, info=np.array(json.dumps(info)))
        temporary.replace(stored)
        passes.append(figures)
        infos.append(info)
        log(f"pass {number} done: {info}")
    measured = np.stack(passes)  # (passes, networks, columns)
    median = np.median(measured, axis=0)
    q1, q3 = np.percentile(measured, [25, 75], axis=0)
    report: dict[str, Any] = {}
    for c, name in enumerate(columns):
        old = table.values([name])[representatives, 0]
        pass_tau = [kendalltau(measured[a, :, c], measured[b, :, c])[0]
                    for a in range(args.passes) for b in range(a + 1, args.passes)]
        report[name] = {
            "old_vs_new_kendall_tau": round(float(kendalltau(old, median[:, c])[0]), 4),
            "pass_to_pass_kendall_tau_median": round(float(np.median(pass_tau)), 4)
            if pass_tau else None,
            "old_over_new_median": round(float(np.median(old / median[:, c])), 4),
            "new_median_ms": round(float(np.median(median[:, c])), 4)}
        log(f"{name}: {report[name]}")
    if args.limit is not None:
        log("a trial (--limit): the packaged table is unchanged")
        return 0

    values = {name: table.values([name])[:, 0] for name in table.metrics}
    spreads = {name: table.spreads([name])[:, 0] for name in table.metrics}
    for c, name in enumerate(columns):
        values[name] = median[group, c]
        spreads[name] = (q3 - q1)[group, c]
    metadata = copy.deepcopy(table.metadata)
    for name in columns:
        metadata["measures"][name]["figure"] = (
            f"median over {args.passes} passes (each over every network in its own random "
            "order) of the pass's fastest sample; spread = IQR over the passes")
        metadata["metrics"][name]["repeats"] = args.passes * settings.repeats
    metadata["latency_rebuild"] = {
        "why": "the first build measured latency beside other jobs (load average "
               f"{metadata['machine'].get('load_average_1min_during')}); re-measured on a "
               "quiet machine, accuracy, MACs and params kept",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "benchmarks/tabular/remeasure_latency.py " +
                   " ".join(sys.argv[1:] if argv is None else argv),
        "passes": infos, "networks": len(models), "machine": machine_info(),
        "columns": report}
    TabularBenchmark(table.space, table.configs, values, spreads, metadata).save(path)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

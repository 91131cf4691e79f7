"""Build a tabulated benchmark of a one-shot super-network end to end (resumable).

    .venv/bin/python benchmarks/tabular/build_oneshot_table.py mnist1d_cells
    .venv/bin/python benchmarks/tabular/build_oneshot_table.py mnist1d_blocks
    .venv/bin/python benchmarks/tabular/build_oneshot_table.py mnist1d_cells --limit 64  # trial

1. Train the table's super-network once on mnist1d with fair single-path sampling
   (``oneshot.train_fair``), or reuse the checkpoint in its run folder.
2. Measure every sub-network of its space once, in a seeded random order (so slow drifts
   of a shared machine's load spread over the whole space), in chunks written to
   ``runs/tabular/<name>/chunks/``: rerunning the command skips finished chunks.
   Validation accuracy (the search objective; 1,000 of the 1,601 validation samples) and
   test accuracy (500 of the 2,000 test samples; both subsets fixed by the seed, to fit
   the build into a shared machine) after batch-norm recalibration on one fixed training
   batch of 256; latency (torch, one thread) at the
   table's batch sizes, the fastest of ``--repeats`` samples of at least 0.5 ms each, a
   sample timed as the smaller of wall-clock and thread CPU time (the machine is shared;
   see ``oneshot.LatencySettings``), their IQR as the spread;
   MACs and parameters counted on the extracted network. Configs that extract the same
   network (cells whose dead edges differ) are measured once and share every figure.
3. Write ``src/hwnas/benchmark_data/<name>.npz`` and print the front figures.

The packaged tables' latency columns were then re-measured on a quiet machine by
``remeasure_latency.py`` (the first builds ran under a load of 12-19 on two cores); on a
shared machine, do the same after a rebuild.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from blocks import BlockSupernet  # noqa: E402
from cells import CellSupernet, cell_plan  # noqa: E402
from oneshot import (  # noqa: E402
    ChunkStore,
    LatencySettings,
    RowMeasurer,
    TrainSettings,
    load_average,
    machine_info,
    train_fair,
)

from hwnas.space import SearchSpace  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATASET = "mnist1d"
VAL_SAMPLES, TEST_SAMPLES = 1000, 500  # fixed subsets: the shared machine is slow
ACCURACY = {"split": "val", "calibration_batches": 1, "calibration_batch_size": 256,
            "seed": 0}


@dataclass(frozen=True)
class Recipe:
    """What one table is: its super-network, its metrics and how they are measured."""

    description: str
    code: str  # the super-network's module, for the metadata
    make_supernet: Callable[[], nn.Module]
    options: dict[str, Any]
    latency_batches: dict[str, int]  # metric name -> batch size
    network_key: Callable[[Any], Any]  # configs with one key extract one network
    sharing: str  # which configs share a network, for the metadata
    train: TrainSettings = field(default_factory=lambda: TrainSettings(epochs=20))

    def tasks(self) -> dict[str, list[list[str]]]:
        """Accuracy against each latency; all of them together when there are several."""
        pairs = {f"accuracy-{name}": [["accuracy", "maximize"], [name, "minimize"]]
                 for name in self.latency_batches}
        if len(self.latency_batches) > 1:
            pairs["accuracy-" + "-".join(self.latency_batches)] = (
                [["accuracy", "maximize"]] + [[name, "minimize"] for name in self.latency_batches])
        return pairs

    def metrics(self) -> dict[str, tuple[str, str]]:
        metrics = {"accuracy": ("maximize", "fraction (validation split)"),
                   "test_accuracy": ("maximize", "fraction (test split)")}
        metrics.update({name: ("minimize", "ms") for name in self.latency_batches})
        metrics.update({"macs": ("minimize", "MACs"), "params": ("minimize", "parameters")})
        return metrics


CELL_WIDTHS = (8, 16, 32)
BLOCK_WIDTHS = (8, 16, 24, 32)
RECIPES: dict[str, Recipe] = {
    "mnist1d_cells": Recipe(
        description="cell space: 6 edges x 5 unordered ops (zero, skip, conv3, conv5, "
                    "maxpool3), one cell stacked in 3 stages",
        code="benchmarks/tabular/cells.py",
        make_supernet=lambda: CellSupernet(widths=CELL_WIDTHS),
        options={"widths": list(CELL_WIDTHS)},
        latency_batches={"latency@b1": 1, "latency@b32": 32},
        network_key=cell_plan,
        sharing="configs that extract the same network (cells.cell_plan: cells differing "
                "only in dead edges) are measured once and share every figure"),
    "mnist1d_blocks": Recipe(
        description="block-type space: 4 stages, block type in (conv, sep, pool, skip) and "
                    "its own child genes",
        code="benchmarks/tabular/blocks.py",
        make_supernet=lambda: BlockSupernet(widths=BLOCK_WIDTHS),
        options={"widths": list(BLOCK_WIDTHS), "transitions": "avgpool2, conv1x1, BN, ReLU"},
        latency_batches={"latency": 1},
        network_key=lambda config: None,
        sharing="none: every config is a different network"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=sorted(RECIPES))
    parser.add_argument("--seed", type=int, default=0, help="data split, weights, training")
    parser.add_argument("--num-samples", type=int, default=10000, help="mnist1d samples")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--repeats", type=int, default=5, help="latency samples")
    parser.add_argument("--chunk", type=int, default=256, help="sub-networks per chunk")
    parser.add_argument("--limit", type=int, default=None,
                        help="measure only N sub-networks (a trial; written to runs/tabular/)")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="default: runs/tabular/<table>")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--train-only", action="store_true",
                        help="train (or find) the checkpoint and stop")
    parser.add_argument("--wait", action="store_true",
                        help="when no chunk is left to claim, wait for the other processes "
                             "instead of exiting (the table is written by a process that "
                             "finds every chunk measured)")
    return parser.parse_args(argv)


def log(message: str) -> None:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


def trained_supernet(recipe: Recipe, data: Any, run_dir: Path, settings: TrainSettings
                     ) -> tuple[nn.Module, dict[str, Any]]:
    """The trained super-network: from ``run_dir/checkpoint.pt`` if it holds one trained
    with ``settings``, else trained now and saved there."""
    checkpoint = run_dir / "checkpoint.pt"
    torch.manual_seed(settings.seed)
    supernet = recipe.make_supernet()
    if checkpoint.is_file():
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if payload["training"]["settings"] == settings.__dict__ \
                and payload.get("options") == recipe.options:
            supernet.load_state_dict(payload["state_dict"])
            log(f"reusing {checkpoint}")
            return supernet.eval(), payload["training"]
    log(f"training on {data} with {settings}")
    training = train_fair(supernet, data, settings, log=log)
    log(f"trained in {training['seconds']:.0f} s; 16 random sub-networks' val accuracy "
        f"{training['probe_val_accuracy']}")
    run_dir.mkdir(parents=True, exist_ok=True)
    temporary = checkpoint.with_suffix(".tmp")
    torch.save({"state_dict": supernet.state_dict(), "training": training,
                "options": recipe.options}, temporary)
    temporary.replace(checkpoint)
    return supernet.eval(), training


def measure(recipe: Recipe, supernet: nn.Module, data: Any, encoded: np.ndarray,
            args: argparse.Namespace, store: ChunkStore) -> tuple[np.ndarray, np.ndarray,
                                                                  list[dict[str, Any]]]:
    metrics = list(recipe.metrics())
    order = np.random.default_rng(args.seed).permutation(len(encoded))
    chunks = [order[i:i + args.chunk] for i in range(0, len(order), args.chunk)]
    measurer = RowMeasurer(supernet, data, metrics, recipe.latency_batches,
                           LatencySettings(repeats=args.repeats), recipe.network_key, args.seed,
                           cache_dir=store.folder / "network_cache", val_samples=VAL_SAMPLES,
                           test_samples=TEST_SAMPLES)
    already = sum(store.done(k) for k in range(len(chunks)))
    log(f"{already} of {len(chunks)} chunks already measured; claiming the rest one by one "
        "(other processes running this command share them)")
    started, done = time.perf_counter(), 0
    for chunk in range(len(chunks)):
        if not store.claim(chunk):
            continue
        rows = chunks[chunk]
        chunk_start, load_before = time.perf_counter(), load_average()
        values, spreads = measurer(encoded[rows])
        store.write(chunk, rows, values, spreads,
                    {"seconds": round(time.perf_counter() - chunk_start, 2),
                     "load_before": load_before, "load_after": load_average(),
                     "pid": os.getpid(), "finished": time.time()})
        done += 1
        left = len(chunks) - sum(store.done(k) for k in range(len(chunks)))
        elapsed = time.perf_counter() - started
        log(f"chunk {chunk} done ({done} by this process in {elapsed:.0f} s; {left} chunks "
            f"left in all; load {load_average()}; {measurer.cache_hits} cache hits)")
    while args.wait and not all(store.done(k) for k in range(len(chunks))):
        time.sleep(10)
    missing = [k for k in range(len(chunks)) if not store.done(k)]
    if missing:
        raise SystemExit(f"{len(missing)} chunks are still being measured by other processes; "
                         "the last one to finish writes the table (or rerun this command)")
    return store.read_all(len(chunks), len(encoded), len(metrics))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    from hwnas.data import load_dataset
    from hwnas.tabular import TabularBenchmark

    recipe = RECIPES[args.table]
    run_dir = args.run_dir or ROOT / "runs" / "tabular" / args.table
    output = args.output or (ROOT / "src" / "hwnas" / "benchmark_data" / f"{args.table}.npz"
                             if args.limit is None
                             else run_dir / f"{args.table}_{args.limit}.npz")
    settings = recipe.train if args.epochs is None else TrainSettings(
        **{**recipe.train.__dict__, "epochs": args.epochs})
    build_started, load_before = time.perf_counter(), load_average()
    data = load_dataset(DATASET, seed=args.seed, options={"num_samples": args.num_samples})
    supernet, training = trained_supernet(recipe, data, run_dir, settings)
    if args.train_only:
        return

    # every config gets a row, also those that extract a network another row has
    # (recipe.network_key: measured once, figures shared), so the table's space is the
    # config-level one, without the super-network space's canonicalize hook
    space = SearchSpace(supernet.space.dims)
    encoded = np.array([space.encode(c) for c in space.enumerate()], dtype=np.int64)
    if args.limit is not None:
        encoded = encoded[np.random.default_rng(args.seed).permutation(len(encoded))
                          [:args.limit]]
    folder = run_dir / ("chunks" if args.limit is None else f"chunks_limit{args.limit}")
    log(f"measuring {len(encoded):,} of {space.size():,} sub-networks into {folder}")
    values, spreads, chunk_infos = measure(recipe, supernet, data, encoded, args,
                                           ChunkStore(folder))
    if not np.isfinite(values).all():
        raise SystemExit("some sub-networks were not measured; the table is not written")
    if not ChunkStore(folder).claim(-1):  # another process that finished is writing it
        log("every chunk is measured; another process writes the table")
        return

    metrics = recipe.metrics()
    latency_settings = LatencySettings(repeats=args.repeats)
    loads = np.array([info["load_before"][0] for info in chunk_infos
                      if info.get("load_before")])
    metadata = {
        "name": args.table,
        "description": recipe.description,
        "supernet": {"code": recipe.code, "options": recipe.options},
        "dataset": {"name": DATASET, "seed": args.seed,
                    "options": {"num_samples": args.num_samples},
                    "sizes": {"train": len(data.train_y), "val": len(data.val_y),
                              "test": len(data.test_y)}},
        "objectives": next(iter(recipe.tasks().values())),
        "tasks": recipe.tasks(),
        "training": training,
        "measures": {"accuracy": {**ACCURACY, "samples": f"{VAL_SAMPLES} of the split's "
                                                           f"{len(data.val_y)}, fixed by the seed"},
                     "test_accuracy": {**ACCURACY, "split": "test",
                                       "samples": f"{TEST_SAMPLES} of the split's "
                                                  f"{len(data.test_y)}, fixed by the seed"},
                     "shared": recipe.sharing,
                     **{name: {"backend": "torch", "batch_size": size,
                               **latency_settings.__dict__,
                               "sample_time": "min(wall clock, thread CPU time) of the sample",
                               "figure": "the fastest sample; spread = IQR of the samples"}
                        for name, size in recipe.latency_batches.items()},
                     "macs": "counted on the extracted network (convolutions, linears)",
                     "params": "parameters of the extracted network"},
        "metrics": {name: {"direction": direction, "unit": unit,
                           "repeats": args.repeats if name in recipe.latency_batches else 1}
                    for name, (direction, unit) in metrics.items()},
        "machine": {**machine_info(), "shared": "2 cores shared with other jobs (4 other "
                    "agents' builds and tests); latency measured under that load",
                    "load_average_before": load_before, "load_average_after": load_average(),
                    "load_average_1min_during": None if loads.size == 0 else
                    {"min": float(loads.min()), "median": float(np.median(loads)),
                     "max": float(loads.max())},
                    "processes": len({info["pid"] for info in chunk_infos})},
        "build": {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                      timespec="seconds"),
                  "seconds": {"training": training["seconds"],
                              "measuring (sum over chunks)": round(
                                  sum(i["seconds"] for i in chunk_infos), 1),
                              "measuring (wall clock, first chunk to last)": round(
                                  max(i["finished"] for i in chunk_infos)
                                  - min(i["finished"] - i["seconds"] for i in chunk_infos), 1),
                              "total (this run)": round(time.perf_counter() - build_started, 1)},
                  "complete": args.limit is None,
                  "command": "benchmarks/tabular/build_oneshot_table.py " +
                             " ".join(sys.argv[1:] if argv is None else argv)},
    }
    names = list(metrics)
    bench = TabularBenchmark(space, encoded, {n: values[:, i] for i, n in enumerate(names)},
                             {n: spreads[:, i] for i, n in enumerate(names)}, metadata)
    bench.save(output)
    log(f"wrote {output} ({output.stat().st_size / 1024:.0f} KiB)")
    print_front_figures(TabularBenchmark.load(output))


def front_figures(bench: Any, objectives: list[tuple[str, str]]) -> dict[str, Any]:
    """Front size, ranges, and the hypervolume share of the single most accurate
    sub-network (its fastest among ties) against the table-worst reference point, and
    against the front's nadir moved outwards by 10% of the front's range."""
    from hwnas.pareto import hypervolume

    names = [name for name, _direction in objectives]
    directions = [direction for _name, direction in objectives]
    values = bench.values(names)
    front = bench.pareto_front(objectives)
    best = front[np.argmax(values[front, 0])]
    low, high = values[front].min(axis=0), values[front].max(axis=0)
    nadir = [float(low[i] - 0.1 * (high[i] - low[i]) if d == "maximize"
                   else high[i] + 0.1 * (high[i] - low[i])) for i, d in enumerate(directions)]
    shares = {}
    for label, reference in (("table_worst", bench.default_reference(objectives)),
                             ("nadir_plus_10pct", nadir)):
        total = hypervolume(values[front], directions, reference)
        shares[label] = {"reference": [round(x, 5) for x in reference],
                         "hypervolume": total,
                         "most_accurate_share": hypervolume(values[[best]], directions,
                                                            reference) / total}
    return {"objectives": names, "front_size": len(front),
            "ranges": {n: [float(values[:, i].min()), float(values[:, i].max())]
                       for i, n in enumerate(names)},
            "front_ranges": {n: [float(low[i]), float(high[i])] for i, n in enumerate(names)},
            "most_accurate": {n: float(values[best, i]) for i, n in enumerate(names)},
            "hypervolume_shares": shares}


def print_front_figures(bench: Any) -> None:
    for name, objectives in bench.tasks.items():
        print(name, json.dumps(front_figures(bench, objectives)), flush=True)


if __name__ == "__main__":
    main()

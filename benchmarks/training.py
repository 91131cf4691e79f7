"""Sandwich vs progressive shrinking vs sorted training, at an equal training budget.

Task (``--task``): ``digits`` (default): the ``elastic_cnn`` super-network (17.2M
sub-networks) on ``digits`` (8x8, one fixed split, seed 0: 1,078 training, 360 validation,
359 test images); ``mnist1d``: ``elastic_cnn1d`` on mnist1d with 4,000 samples (2,559
training, 641 validation, 800 test signals; split seed 0). Every method trains for
the same number of optimizer steps over the same shuffled mini-batches (``--epochs``
passes of batch 64, shuffle seeded by the run's seed), with the same optimizer (SGD,
Nesterov, peak lr 0.1, cosine decay, weight decay 5e-4, label smoothing 0.1), and makes 4
forward-backward passes of trainable sub-networks per step (sandwich: largest, smallest,
2 random; sorted: 4 nested levels of 8; progressive: 4 sampled sub-networks per step, but
1 - the largest alone - in its first phase, so it makes fewer passes: the count is
reported). Frozen-teacher forward passes (progressive) are not counted. Progressive runs
its later phases at 0.3 x the cosine rate (its default ``later_lr_scale``, chosen on a
seed outside the benchmark's, on validation accuracy).

Reported per run: test accuracy of the largest and the smallest sub-network, of a fixed
sample of 20 random sub-networks (the same configs for every method and seed), training
seconds, and the hypervolume of a fixed search over the trained result: NSGA-II (seed 0,
population 16, 48 evaluations) on validation accuracy (maximise) vs MACs (minimise),
against the reference point fixed in advance (accuracy 0, MACs 1.1 x the largest
sub-network's), normalised by the reference box (accuracy 1 x reference MACs), so 1.0 is
unreachable and larger is better. Every sub-network is batch-norm recalibrated before it
is measured (the evaluation pipeline's one recalibration).

    flock /work/bench.lock .venv/bin/python benchmarks/training.py [--seeds 8] [--epochs 10]
    flock /work/bench.lock python benchmarks/training.py --task mnist1d --seeds 4 --epochs 6
    .venv/bin/python benchmarks/training.py --quick      # a smoke run (about a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from hwnas.data import DataSplits, load_dataset
from hwnas.measure.counting import count_macs
from hwnas.measure.prepare import Recalibrate
from hwnas.study import Study
from hwnas.supernets import create_supernet, save_checkpoint
from hwnas.supernets.io import example_inputs
from hwnas.training import train
from hwnas.training.base import subnet_accuracies

METHODS = ("sandwich", "progressive", "sorted")
SPLIT_SEED = 0


@dataclass(frozen=True)
class Task:
    supernet: str
    dataset: str
    dataset_options: dict[str, Any] = field(default_factory=dict)


TASKS = {"digits": Task("elastic_cnn", "digits"),
         "mnist1d": Task("elastic_cnn1d", "mnist1d", {"num_samples": 4000})}
SAMPLE_SEED, SAMPLE_SIZE = 12345, 20
SEARCH = {"strategy": "nsga2", "population_size": 16, "evaluations": 48, "seed": 0}
RESULTS = Path(__file__).resolve().parent / "results" / "training.json"


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    flags: list[str] = []
    try:
        with open("/proc/cpuinfo") as handle:
            lines = handle.read().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines
                    if line.startswith("model name")), cpu)
        every = next((line.split(":", 1)[1].split() for line in lines
                      if line.startswith("flags")), [])
        flags = [f for f in every if f.startswith(("avx", "amx")) or f in {"fma", "f16c"}]
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "flags": flags,
            "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def fixed_sample(supernet: Any, size: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(SAMPLE_SEED)
    return [supernet.space.sample(rng) for _ in range(size)]


def one_run(task: Task, method: str, seed: int, data: DataSplits, epochs: int,
            sample_size: int, search: dict[str, Any], folder: Path) -> dict[str, Any]:
    torch.manual_seed(seed)
    supernet = create_supernet(task.supernet)
    report = train(supernet, data, method=method, epochs=epochs, batch_size=64, seed=seed,
                   progress=False)
    calibration = Recalibrate().calibration_batches(data.train_x)
    sample = [subnet_accuracies(supernet, c, data, calibration)[1]
              for c in fixed_sample(supernet, sample_size)]
    checkpoint = save_checkpoint(supernet, folder / f"{method}{seed}.pt", task.supernet,
                                 {}, {"dataset": task.dataset,
                                      "dataset_options": task.dataset_options,
                                      "split_seed": SPLIT_SEED, "seed": seed})
    largest_macs = count_macs(supernet.extract(supernet.space.largest()).eval(),
                              example_inputs(supernet, 1))
    reference = [0.0, 1.1 * largest_macs]
    study = Study.create(folder / f"{method}{seed}.db", checkpoint=checkpoint,
                         objectives=["accuracy", "macs"], metrics=[],
                         strategy=search["strategy"],
                         strategy_options={"population_size": search["population_size"]},
                         seed=search["seed"], reference_point=reference)
    started = time.perf_counter()
    study.optimize(search["evaluations"], progress=False)
    search_seconds = time.perf_counter() - started
    hv = study.hypervolume(reference) / (1.0 * reference[1])
    return {"method": method, "seed": seed, "steps": report.steps,
            "subnet_passes": report.subnet_passes, "train_seconds": report.seconds,
            "test_accuracy_largest": report.test_accuracy_largest,
            "test_accuracy_smallest": report.test_accuracy_smallest,
            "sample_test_accuracy_mean": float(np.mean(sample)),
            "sample_test_accuracy_median": float(np.median(sample)),
            "sample_test_accuracy_min": float(np.min(sample)),
            "hypervolume": hv, "front_size": len(study.pareto_front()),
            "search_seconds": search_seconds, "reference_point": reference,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


FIGURES = ("test_accuracy_largest", "test_accuracy_smallest", "sample_test_accuracy_mean",
           "sample_test_accuracy_min", "hypervolume", "train_seconds", "subnet_passes")


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per method and figure: median, quartiles, worst and best over the seeds."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for method in sorted({r["method"] for r in runs}, key=METHODS.index):
        mine = [r for r in runs if r["method"] == method]
        summary[method] = {}
        for figure in FIGURES:
            values = np.array([r[figure] for r in mine], dtype=float)
            worst = values.max() if figure in {"train_seconds"} else values.min()
            summary[method][figure] = {
                "median": float(np.median(values)), "q1": float(np.percentile(values, 25)),
                "q3": float(np.percentile(values, 75)), "worst": float(worst),
                "best": float(values.min() if figure == "train_seconds" else values.max()),
                "n": int(len(values))}
    return summary


def wins(runs: list[dict[str, Any]], method: str, baseline: str, figure: str) -> str:
    """How many seeds ``method`` beats ``baseline`` on ``figure`` (paired by seed)."""
    by_seed = {(r["method"], r["seed"]): r[figure] for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    better = sum(by_seed[(method, s)] > by_seed[(baseline, s)] for s in seeds)
    return f"{better}/{len(seeds)}"


def print_table(task: Task, summary: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{task.supernet} on {task.dataset}: median [q1, q3] (worst seed)")
    table.add_column("method")
    for figure in FIGURES:
        table.add_column(figure.replace("_", " "), justify="right")
    for method, figures in summary.items():
        cells = []
        for figure in FIGURES:
            f = figures[figure]
            digits = 0 if figure == "subnet_passes" else (1 if "seconds" in figure else 3)
            cells.append(f"{f['median']:.{digits}f} [{f['q1']:.{digits}f}, {f['q3']:.{digits}f}]"
                         f" ({f['worst']:.{digits}f})")
        table.add_row(method, *cells)
    console = Console(width=200)
    console.print(table)
    for method in METHODS[1:]:
        if method in summary:
            console.print(f"{method} beats sandwich on seeds: "
                          + ", ".join(f"{figure} {wins(runs, method, 'sandwich', figure)}"
                                      for figure in FIGURES[:5]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--task", choices=sorted(TASKS), default="digits")
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, 1 epoch, 2 sampled sub-networks, 4 evaluations")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seeds, epochs, sample_size = args.seeds, args.epochs, SAMPLE_SIZE
    search = dict(SEARCH)
    if args.quick:
        seeds, epochs, sample_size = 1, 1, 2
        search.update(population_size=4, evaluations=4)
    task = TASKS[args.task]
    stem = "training" if args.task == "digits" else f"training_{args.task}"
    out = args.out or RESULTS.with_name(f"{stem}_quick.json" if args.quick else f"{stem}.json")
    methods = [m for m in args.methods.split(",") if m]
    data = load_dataset(task.dataset, seed=SPLIT_SEED, options=task.dataset_options)
    runs = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(seeds):
            for method in methods:
                run = one_run(task, method, seed, data, epochs, sample_size, search,
                              Path(folder))
                runs.append(run)
                print(f"{method:12s} seed {seed}: largest {run['test_accuracy_largest']:.3f} "
                      f"smallest {run['test_accuracy_smallest']:.3f} sample "
                      f"{run['sample_test_accuracy_mean']:.3f} hv {run['hypervolume']:.4f} "
                      f"({run['train_seconds']:.1f} s)", flush=True)
    summary = summarise(runs)
    result = {"task": args.task, "supernet": task.supernet, "dataset": task.dataset,
              "dataset_options": task.dataset_options, "split_seed": SPLIT_SEED,
              "epochs": epochs, "batch_size": 64, "seeds": seeds, "methods": methods,
              "budget": "equal optimizer steps over the same mini-batches; 4 trainable "
                        "sub-network passes per step (progressive: 1 in its first phase)",
              "sample": {"seed": SAMPLE_SEED, "size": sample_size},
              "search": search,
              "reference_point": "accuracy 0, MACs 1.1 x the largest sub-network's; "
                                 "hypervolume divided by 1.0 x reference MACs",
              "machine": machine(), "wall_seconds": time.perf_counter() - started,
              "summary": summary, "runs": runs}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print_table(task, summary, runs)
    print(f"written to {out}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])

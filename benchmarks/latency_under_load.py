"""Does latency hold beside other work? The same sub-networks measured idle and loaded.

Targets (issue 17): beside two CPU-bound background processes of the same priority (which
this script starts and stops itself), the latency ranking keeps Kendall tau >= 0.95 against
the idle ranking, the medians stay within 10% of the idle ones, and evaluations per second
are at least half of idle.

Two methods, each a full evaluation as a search runs it (extract, batch-norm
recalibration and accuracy on the digits validation split, latency at batch 1 on torch):

- ``before``: the earlier measurement (median of 25 samples of >= 5 ms each) with the
  recalibration and accuracy at torch's default intra-op threads (one per core);
- ``robust``: the interleaved reference-ratio method (:mod:`hwnas.measure.latency`) with
  every stage under a thread budget of one thread.

The two methods alternate sub-network by sub-network within a phase, so a drift of the
machine hits both alike. The figures: ``kendall_tau`` between the idle and loaded
latencies, ``median_relative_difference`` and ``worst_relative_difference`` of the loaded
latencies against the idle ones, ``throughput_ratio`` = loaded / idle evaluations per
second, and the idle repeatability (``idle_repeat_*``: the idle phase measured twice).
A complement, never a replacement: ``separated_pairs``, the tau over only the pairs whose
idle latencies differ by more than the idle repeat's median relative difference (near-ties
make a tau over all pairs fragile).

    .venv/bin/python benchmarks/latency_under_load.py [--subnetworks 50] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import kendalltau

from hwnas.data import load_dataset
from hwnas.evaluation import Pipeline
from hwnas.measure import LatencyMeasure, Metric, Objective, create_measure
from hwnas.measure.hardware import load_average, machine_description
from hwnas.supernets import create_supernet

BUSY_LOOP = "while True:\n    pass\n"
TARGETS = {"kendall_tau": 0.95, "median_relative_difference": 0.10, "throughput_ratio": 0.5,
           "idle_repeat_worst": 0.05}


def pipelines(family: str) -> tuple[Any, dict[str, Pipeline]]:
    supernet = create_supernet(family).eval()
    data = load_dataset("digits", seed=0)
    accuracy = Objective("accuracy", "maximize", create_measure("accuracy"))
    default_threads = os.cpu_count() or 1
    built = {
        "before": Pipeline(supernet, [accuracy, Metric("latency", LatencyMeasure(
            method="median"))], data, threads=default_threads),
        "robust": Pipeline(supernet, [accuracy, Metric("latency", LatencyMeasure(
            method="robust"))], data, threads=1),
    }
    return supernet, built


def phase(configs: list[dict], built: dict[str, Pipeline]) -> dict[str, Any]:
    """Every config evaluated by every method, alternating; latency, quality and seconds."""
    out: dict[str, Any] = {name: {"latency": [], "spread": [], "quality": [], "seconds": 0.0}
                           for name in built}
    for index, config in enumerate(configs):
        order = list(built) if index % 2 == 0 else list(reversed(built))
        for name in order:
            start = time.perf_counter()
            measured = built[name](config)
            out[name]["seconds"] += time.perf_counter() - start
            out[name]["latency"].append(measured["latency"].value)
            out[name]["spread"].append(measured["latency"].spread)
            out[name]["quality"].append(measured["latency"].quality)
    return out


def start_background(count: int) -> list[subprocess.Popen]:
    """``count`` CPU-bound busy loops at this process's priority."""
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]


def stop_background(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)


def compare(idle: list[float], other: list[float]) -> dict[str, float]:
    idle_a, other_a = np.asarray(idle), np.asarray(other)
    relative = np.abs(other_a - idle_a) / idle_a
    return {"kendall_tau": float(kendalltau(idle_a, other_a)[0]),
            "median_relative_difference": float(np.median(relative)),
            "worst_relative_difference": float(np.max(relative))}


def separated_pairs_tau(idle: list[float], other: list[float], spread: float) -> dict[str, float]:
    """Kendall tau over only the pairs of sub-networks whose idle latencies differ by more
    than ``spread`` (relative): a complement to the tau over all pairs, which near-ties
    (pairs closer than the measurement repeats) make fragile; never a replacement."""
    idle_a, other_a = np.asarray(idle), np.asarray(other)
    first, second = np.triu_indices(len(idle_a), 1)
    apart = np.abs(idle_a[first] - idle_a[second]) / np.minimum(idle_a[first], idle_a[second])
    chosen = apart > spread
    agree = np.sign(idle_a[first] - idle_a[second]) * np.sign(other_a[first] - other_a[second])
    return {"kendall_tau_separated_pairs": float(agree[chosen].mean()) if chosen.any()
            else float("nan"),
            "separated_pairs_fraction": float(chosen.mean()), "separation": float(spread)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="elastic_cnn")
    parser.add_argument("--subnetworks", type=int, default=50)
    parser.add_argument("--background", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10 sub-networks (smoke test)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    count = 10 if args.quick else args.subnetworks
    out = args.out or Path("benchmarks/results/latency_under_load"
                           + ("_quick" if args.quick else "") + ".json")

    supernet, built = pipelines(args.family)
    rng = np.random.default_rng(args.seed)
    configs = [supernet.space.sample(rng) for _ in range(count)]
    load_before = load_average()
    started = time.perf_counter()
    phase(configs[:2], built)  # warm-up: the reference's latency, first-call costs
    idle = phase(configs, built)
    idle_again = phase(configs, built)
    background = start_background(args.background)
    try:
        time.sleep(1.0)
        load_during = None
        loaded = phase(configs, built)
        load_during = load_average()
    finally:
        stop_background(background)
    load_after = load_average()

    results: dict[str, Any] = {}
    for name in built:
        figures = compare(idle[name]["latency"], loaded[name]["latency"])
        repeat = compare(idle[name]["latency"], idle_again[name]["latency"])
        figures.update({
            "throughput_ratio": idle[name]["seconds"] / loaded[name]["seconds"],
            "idle_evaluations_per_second": count / idle[name]["seconds"],
            "loaded_evaluations_per_second": count / loaded[name]["seconds"],
            "idle_repeat_kendall_tau": repeat["kendall_tau"],
            "idle_repeat_median": repeat["median_relative_difference"],
            "idle_repeat_worst": repeat["worst_relative_difference"],
            # complementary: only pairs further apart than the idle repeat's median
            # relative difference (the measurement's own spread)
            "separated_pairs": {
                "loaded": separated_pairs_tau(idle[name]["latency"], loaded[name]["latency"],
                                              repeat["median_relative_difference"]),
                "idle_repeat": separated_pairs_tau(idle[name]["latency"],
                                                   idle_again[name]["latency"],
                                                   repeat["median_relative_difference"])},
            "noisy_idle": idle[name]["quality"].count("noisy"),
            "noisy_loaded": loaded[name]["quality"].count("noisy"),
            "idle_median_ms": float(np.median(idle[name]["latency"])),
            "idle_median_relative_spread": float(np.median(
                np.asarray(idle[name]["spread"]) / np.asarray(idle[name]["latency"]))),
            "loaded_median_relative_spread": float(np.median(
                np.asarray(loaded[name]["spread"]) / np.asarray(loaded[name]["latency"]))),
        })
        figures["targets_met"] = {
            "kendall_tau": figures["kendall_tau"] >= TARGETS["kendall_tau"],
            "median_relative_difference": figures["median_relative_difference"]
            <= TARGETS["median_relative_difference"],
            "throughput_ratio": figures["throughput_ratio"] >= TARGETS["throughput_ratio"],
            "idle_repeat_worst": figures["idle_repeat_worst"] <= TARGETS["idle_repeat_worst"]}
        figures["latency_ms"] = {"idle": idle[name]["latency"],
                                 "idle_again": idle_again[name]["latency"],
                                 "loaded": loaded[name]["latency"]}
        results[name] = figures

    report = {
        "family": args.family, "subnetworks": count, "seed": args.seed,
        "background_processes": args.background, "quick": args.quick,
        "targets": TARGETS, "methods": results,
        "seconds": time.perf_counter() - started,
        "machine": {**machine_description(), "load_average_before": load_before,
                    "load_average_during_loaded_phase": load_during,
                    "load_average_after": load_after,
                    "note": "a shared machine: other jobs may run beside this one"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"{args.family}, {count} sub-networks, {args.background} busy processes; load "
          f"before {load_before}, during {load_during}, after {load_after}")
    header = ("method", "tau", "median diff", "worst diff", "throughput", "idle repeat tau",
              "idle repeat worst", "noisy idle/loaded", "tau on separated pairs (share)")
    print(" | ".join(header))
    for name, f in results.items():
        print(f"{name} | {f['kendall_tau']:.3f} | {100 * f['median_relative_difference']:.1f}% | "
              f"{100 * f['worst_relative_difference']:.1f}% | {f['throughput_ratio']:.2f} | "
              f"{f['idle_repeat_kendall_tau']:.3f} | "
              f"{100 * f['idle_repeat_worst']:.1f}% | {f['noisy_idle']}/{f['noisy_loaded']} | "
              f"{f['separated_pairs']['loaded']['kendall_tau_separated_pairs']:.3f} "
              f"({100 * f['separated_pairs']['loaded']['separated_pairs_fraction']:.0f}%)")
    print(f"targets: tau >= 0.95, median diff <= 10%, throughput >= 0.5, idle repeat <= 5%; "
          f"written to {out}")


if __name__ == "__main__":
    main()

"""Joint architecture + per-layer quantization policy search (SimQ-NAS) against full INT8.

On the built-in CNN super-networks (elastic_cnn on digits, elastic_cnn1d on mnist1d),
trained here until most sub-networks come within a point of the largest (digits 60
epochs, mnist1d 12; checkpoints cached under runs/quantization/; after 10 and 4 epochs only
the largest was within 0.5 pp of full INT8), every figure measured
on the ONNX Runtime model the ``quantize`` transform makes (static QDQ INT8, per-channel;
fp32 layers excluded): validation accuracy, latency (ms per batch of 32, one thread) and
model size (bytes of the ONNX file).

Baselines, fixed in advance: the largest sub-network in fp32 and fully INT8 (the reference
SimQ-NAS compares to), and "architecture-only search (NSGA-II, fp32), then its front fully
INT8". The joint search is NSGA-II over architecture + policy with the same budget. Per
seed: the best latency and size ratio vs full-INT8 largest among joint results within 0.5
percentage points of its accuracy; whether the joint front dominates an arch-only-then-INT8
point; whether a mixed policy strictly beats uniform INT8 on the same sub-network (accuracy
not lower and latency lower by more than the two measurements' IQRs, or accuracy higher at
latency not higher). The ``CANDIDATES`` fastest points within the accuracy floor are
measured again, ``REMEASURE`` rounds each timing the reference and then every candidate, and
the ratio is of the two medians: a lucky single timing among many, or a load that changed
since the baseline was measured, does not pass as a speed-up. Accuracy is the validation
split's, the one searched on; the chosen points' accuracy on the test split, which no
search sees, is reported beside (``test_accuracy_loss_pp``: below the reference's), and
the same figures at 0, 1 and 2 pp (``other_accuracy_loss``).

The starting design of the joint search spreads each policy's share of INT8 layers (the
policy genes form one group, :func:`hwnas.strategies.design.spread_groups`).

    flock /work/bench.lock .venv/bin/python benchmarks/quantization.py [--quick]
    # in parts (each under the lock), then one result:
    ... quantization.py --tasks digits --seeds 10 --out runs/quantization/part_digits.json
    ... quantization.py --tasks mnist1d --seeds 5 --first-seed 5 --out runs/quantization/p2.json
    .venv/bin/python benchmarks/quantization.py --merge runs/quantization/part_*.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from rich.console import Console
from rich.table import Table

from hwnas.data import load_dataset
from hwnas.evaluation import Pipeline
from hwnas.measure.objectives import as_metric
from hwnas.quantization import QuantizeTransform, describe_policy, policy_genes
from hwnas.space import Config
from hwnas.study import Study
from hwnas.supernets import load_supernet
from hwnas.workflow import train_supernet

TASKS = {"digits": "elastic_cnn", "mnist1d": "elastic_cnn1d"}
EPOCHS = {"digits": 60, "mnist1d": 12}  # about 1 and 2.5 minutes on a quiet machine
ISO_ACCURACY = 0.005  # at most 0.5 percentage points below full-INT8 largest
OTHER_LOSSES = (0.0, 0.01, 0.02)  # also reported: the trade-off at 0, 1 and 2 pp
LATENCY = "latency:latency:backend=onnxruntime,batch_size=32,warmup=3,repeats=10,min_sample_ms=2"
FIGURES = ["accuracy:accuracy:backend=onnxruntime", LATENCY, "onnx_size", "int8_layers"]
HELD_OUT = "test_accuracy:accuracy:backend=onnxruntime,split=test"  # of the chosen points only
OBJECTIVES = ["accuracy", "latency", "onnx_size"]
SIMQ_NAS = {"latency_speedup": 4.80, "size_reduction": 3.44}
REMEASURE = 3  # the reference and the best candidates: median of this many measurements
CANDIDATES = 3  # the fastest candidates within the accuracy floor measured again
console = Console()


def cpu_facts() -> dict[str, Any]:
    flags: list[str] = []
    model = platform.processor()
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name.strip() == "flags" and not flags:
                flags = value.split()
            elif name.strip() == "model name":
                model = value.strip()
    wanted = [f for f in flags if f in ("avx512_vnni", "avx_vnni", "avx512f", "avx2")
              or f.startswith("amx")]
    return {"model": model, "flags": sorted(wanted), "logical_cpus": os.cpu_count(),
            "load_average": list(os.getloadavg())}


def checkpoint(task: str, epochs: int) -> Path:
    path = Path("runs/quantization") / f"{TASKS[task]}_{task}_e{epochs}.pt"
    if not path.exists():
        start = time.perf_counter()
        report = train_supernet(path, supernet=TASKS[task], dataset=task, epochs=epochs,
                                seed=0, progress=False)
        console.print(f"trained {TASKS[task]} on {task} ({epochs} epochs, "
                      f"{time.perf_counter() - start:.0f} s): validation accuracy largest "
                      f"{report.val_accuracy_largest:.4f}")
    return path


def figures_of(measured: dict) -> dict[str, float]:
    return {key: float(m.value) for key, m in measured.items()} | {
        "latency_iqr": float(measured["latency"].spread)}


class Task:
    """One super-network on its data: the pipeline every figure of the task comes from."""

    def __init__(self, task: str, supernet: Any, data: Any) -> None:
        self.name, self.supernet, self.data = task, supernet.eval(), data
        self.transform = QuantizeTransform(calibration_samples=128)
        self.pipeline = Pipeline(self.supernet, [as_metric(f) for f in FIGURES], self.data,
                                 transform=self.transform)
        self.held_out = Pipeline(self.supernet, [as_metric(HELD_OUT)], self.data,
                                 transform=self.transform)
        self.arch_space = self.supernet.space
        self.joint_space = self.transform.search_space(self.arch_space, self.supernet)
        self.genes = policy_genes(self.joint_space)
        self._test_accuracies: dict[str, float] = {}

    @classmethod
    def trained(cls, task: str, epochs: int) -> Task:
        return cls(task, load_supernet(checkpoint(task, epochs)), load_dataset(task, seed=0))

    def with_policy(self, architecture: Config, precision: str) -> Config:
        return {**{k: v for k, v in architecture.items() if k in self.arch_space.names},
                **dict.fromkeys(self.genes, precision)}

    def measure(self, config: Config) -> dict[str, float]:
        return figures_of(self.pipeline(config))

    def test_accuracy(self, config: Config) -> float:
        """Accuracy on the test split, which no search sees: whether a point chosen for its
        validation accuracy among many keeps it (the same quantized model, from the cache).
        Measured once per config: every accuracy level asks again for the points it chooses."""
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in self._test_accuracies:
            self._test_accuracies[key] = float(self.held_out(config)["test_accuracy"].value)
        return self._test_accuracies[key]

    def paired_speedups(self, configs: list[Config], keys: list[Any],
                        repeats: int = REMEASURE) -> dict[int, float]:
        """``{id(key): median reference latency / median latency of its config}``, every
        round timing the reference (full-INT8 largest) and then each config once."""
        reference = self.with_policy(self.arch_space.largest(), "int8")
        times: list[list[float]] = [[] for _ in range(len(configs) + 1)]
        for _ in range(repeats):
            for i, config in enumerate([reference, *configs]):
                times[i].append(self.measure(config)["latency"])
        medians = [float(np.median(t)) for t in times]
        return {id(key): medians[0] / median for key, median in zip(keys, medians[1:])}

    def baseline(self, precision: str, repeats: int = REMEASURE) -> dict[str, float]:
        config = self.with_policy(self.arch_space.largest(), precision)
        runs = [self.measure(config) for _ in range(repeats)]
        return {key: float(np.median([r[key] for r in runs])) for key in runs[0]} | {
            "test_accuracy": self.test_accuracy(config)}


STRATEGY_OPTIONS = {
    "nsga2": lambda budget: {"population_size": max(4, budget // 4)},
    "linas": lambda budget: {"initial_population": max(4, budget // 4),
                             "batch_size": max(2, budget // 8)},
    "random": lambda budget: None,
}


def search(task: Task, space: Any, evaluate: Any, budget: int, seed: int,
           strategy: str) -> list:
    study = Study.create(":memory:", evaluator=evaluate, space=space, objectives=OBJECTIVES,
                         metrics=["int8_layers"], strategy=strategy,
                         strategy_options=STRATEGY_OPTIONS[strategy](budget), seed=seed)
    study.optimize(budget, progress=False)
    return study.finished(), study.pareto_front()


def dominates(a: dict, b: dict) -> bool:
    better_or_equal = (a["accuracy"] >= b["accuracy"] and a["latency"] <= b["latency"]
                       and a["onnx_size"] <= b["onnx_size"])
    strictly = (a["accuracy"] > b["accuracy"] or a["latency"] < b["latency"]
                or a["onnx_size"] < b["onnx_size"])
    return better_or_equal and strictly


def best_at_iso(points: list[dict], reference: dict, loss: float = ISO_ACCURACY,
                task: Task | None = None) -> dict[str, Any]:
    """The best latency and size ratio vs ``reference`` among ``points`` at most ``loss``
    below its accuracy; with ``task``, the ``CANDIDATES`` fastest are measured again,
    ``REMEASURE`` times each, in turn with the reference (full-INT8 largest), and ranked by
    the ratio of the two medians, so a timing that was lucky or a machine whose load changed
    since the reference was measured does not pass as a speed-up
    (``first_latency_speedup``: as first measured, against the reference measured once), and
    the fastest and the smallest point's test accuracy is measured (``test_accuracy_loss_pp``:
    how far below the reference's it is, in percentage points)."""
    floor = reference["accuracy"] - loss
    eligible = [p for p in points if p["accuracy"] >= floor]
    if not eligible:
        return {"latency_speedup": None, "size_reduction": None, "accuracy": None,
                "eligible": 0}
    first = min(eligible, key=lambda p: p["latency"])
    speedup = {id(p): reference["latency"] / p["latency"] for p in eligible}
    if task is not None:
        fastest_first = sorted(eligible, key=lambda p: p["latency"])[:CANDIDATES]
        speedup |= task.paired_speedups([p["config"] for p in fastest_first], fastest_first)
    fastest = max(eligible, key=lambda p: speedup[id(p)])
    smallest = min(eligible, key=lambda p: p["onnx_size"])
    held_out = {} if task is None else {
        f"test_accuracy_loss_pp{suffix}": 100 * (reference["test_accuracy"]
                                                 - task.test_accuracy(chosen["config"]))
        for suffix, chosen in (("", fastest), ("_smallest", smallest))}
    return {"latency_speedup": speedup[id(fastest)],
            "size_reduction": reference["onnx_size"] / smallest["onnx_size"],
            "accuracy": fastest["accuracy"], "policy": fastest.get("policy"),
            "size_of_fastest_reduction": reference["onnx_size"] / fastest["onnx_size"],
            "first_latency_speedup": reference["latency"] / first["latency"],
            "remeasured": task is not None, "eligible": len(eligible), **held_out}


def point(task: Task, result: Any) -> dict[str, Any]:
    return {**result.metrics, "latency_iqr": result.spreads.get("latency", 0.0),
            "policy": describe_policy(task.joint_space, result.config), "config": result.config}


def one_seed(task: Task, seed: int, budget: int, int8: dict,
             strategy: str = "nsga2") -> dict[str, Any]:
    start = time.perf_counter()
    fp32_policy = dict.fromkeys(task.genes, "fp32")
    finished, front = search(task, task.joint_space, task.pipeline, budget, seed, strategy)
    joint = [point(task, r) for r in finished]
    joint_front = [point(task, r) for r in front]
    _, arch_front = search(task, task.arch_space,
                           lambda config: task.pipeline({**config, **fp32_policy}), budget, seed,
                           strategy)
    then_int8 = [{**task.measure(task.with_policy(r.config, "int8")), "config": r.config,
                  "policy": "all int8"} for r in arch_front]
    dominated = [p for p in then_int8 if any(dominates(q, p) for q in joint_front)]
    mixed = []
    for member in joint_front:
        used = int(member["int8_layers"])
        total = int(member["policy"].split("/")[1].split()[0])
        if 0 < used < total:
            uniform = task.measure(task.with_policy(member["config"], "int8"))
            margin = member.get("latency_iqr", 0.0) + uniform["latency_iqr"]
            beats = ((member["accuracy"] >= uniform["accuracy"]
                      and member["latency"] < uniform["latency"] - margin)
                     or (member["accuracy"] > uniform["accuracy"]
                         and member["latency"] <= uniform["latency"]))
            mixed.append({"policy": member["policy"], "accuracy": member["accuracy"],
                          "latency": member["latency"], "uniform_accuracy": uniform["accuracy"],
                          "uniform_latency": uniform["latency"], "latency_margin": margin,
                          "strictly_beats": bool(beats)})
    return {"seed": seed, "seconds": time.perf_counter() - start,
            "joint_evaluations": len(joint), "joint_front_size": len(joint_front),
            "best_at_iso_accuracy": best_at_iso(joint, int8, task=task),
            "arch_only_then_int8": best_at_iso(then_int8, int8, task=task),
            "arch_only_front_size": len(then_int8),
            "arch_only_then_int8_points_dominated_by_joint_front": len(dominated),
            "other_accuracy_loss": {
                f"{100 * loss:g}pp": {
                    "joint": best_at_iso(joint, int8, loss, task),
                    "arch_only_then_int8": best_at_iso(then_int8, int8, loss, task)}
                for loss in OTHER_LOSSES},
            "mixed_vs_uniform": mixed,
            "mixed_strictly_beats_uniform": any(m["strictly_beats"] for m in mixed)}


def spread(values: list[float | None]) -> dict[str, float | None]:
    found = [v for v in values if v is not None]
    if not found:
        return {"median": None, "min": None, "max": None, "seeds": 0}
    return {"median": float(np.median(found)), "min": float(min(found)),
            "max": float(max(found)), "seeds": len(found)}


def run_task(task: Task, seeds: range, budget: int, strategy: str = "nsga2") -> dict[str, Any]:
    """Baselines and every seed's searches of one task (:func:`summarize_task` sums up)."""
    machine = cpu_facts()
    int8, fp32 = task.baseline("int8"), task.baseline("fp32")
    console.print(f"{task.name}: largest fp32: acc {fp32['accuracy']:.4f}, "
                  f"{fp32['latency']:.3f} ms, {fp32['onnx_size'] / 1e3:.0f} kB; full INT8 "
                  f"(reference): acc {int8['accuracy']:.4f}, {int8['latency']:.3f} ms, "
                  f"{int8['onnx_size'] / 1e3:.0f} kB", highlight=False)
    runs = []
    for seed in seeds:
        runs.append(one_seed(task, seed, budget, int8, strategy) | {"int8_baseline": int8})
        best, arch = runs[-1]["best_at_iso_accuracy"], runs[-1]["arch_only_then_int8"]
        console.print(f"  seed {seed}: {runs[-1]['seconds']:.0f} s, joint at iso-accuracy: "
                      f"latency x{best['latency_speedup']}, size x{best['size_reduction']}; "
                      f"arch-only then INT8: latency x{arch['latency_speedup']}, size "
                      f"x{arch['size_reduction']}", highlight=False)
    return {"supernet": type(task.supernet).__name__, "policy_genes": len(task.genes),
            "fp32_largest": fp32, "int8_baseline": int8, "machine": machine,
            "load_average_end": list(os.getloadavg()),
            "quantizations": task.transform.quantizations, "seeds": runs}


def spreads(bests: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """:func:`spread` of each figure of the seeds' :func:`best_at_iso` results."""
    return {key: spread([best.get(key) for best in bests])
            for key in ("latency_speedup", "size_reduction", "accuracy", "test_accuracy_loss_pp")}


def summarize_task(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians and spreads over the seeds of :func:`run_task` (of one run or merged runs)."""
    runs = raw["seeds"]
    joint = [r["best_at_iso_accuracy"] for r in runs]
    arch = [r["arch_only_then_int8"] for r in runs]
    levels = runs[0].get("other_accuracy_loss", {})
    return {
        **{k: v for k, v in raw.items() if k != "seeds"},
        "best_at_iso_accuracy": spreads(joint),
        "arch_only_then_int8": spreads(arch),
        "other_accuracy_loss": {
            level: {side: spreads([r["other_accuracy_loss"][level][side] for r in runs])
                    for side in ("joint", "arch_only_then_int8")} for level in levels},
        "joint_dominates_arch_only_then_int8_somewhere": sum(
            r["arch_only_then_int8_points_dominated_by_joint_front"] > 0 for r in runs),
        "mixed_strictly_beats_uniform_int8_somewhere": sum(
            r["mixed_strictly_beats_uniform"] for r in runs),
        "joint_beats_arch_only_then_int8_latency": sum(
            (j["latency_speedup"] or 0.0) > (a["latency_speedup"] or 0.0)
            for j, a in zip(joint, arch)),
        "joint_beats_arch_only_then_int8_size": sum(
            (j["size_reduction"] or 0.0) > (a["size_reduction"] or 0.0)
            for j, a in zip(joint, arch)),
        "seed_count": len(runs), "seeds": runs,
    }


def _show(value: dict[str, Any]) -> str:
    if value["median"] is None:
        return "-"
    return f"{value['median']:.2f} ({value['min']:.2f}-{value['max']:.2f})"


RAW_KEYS = ("supernet", "policy_genes", "fp32_largest", "int8_baseline", "machine",
            "load_average_end", "quantizations", "seeds")
MERGED_SETTINGS = ("strategy", "budget", "epochs", "figures", "objectives", "iso_accuracy_pp",
                   "quick")


def merge(paths: list[Path]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The raw tasks, settings and parts of several runs of this script (same settings)."""
    raw: dict[str, Any] = {}
    settings: dict[str, Any] = json.loads(paths[0].read_text())["settings"]
    parts = []
    for path in paths:
        part = json.loads(path.read_text())
        differing = [k for k in MERGED_SETTINGS if part["settings"].get(k) != settings.get(k)]
        if differing:
            raise SystemExit(f"{path}: settings {differing} differ from {paths[0]}'s; only "
                             "runs with the same settings merge")
        for name, task in part["tasks"].items():
            if name not in raw:
                raw[name] = {k: task[k] for k in RAW_KEYS if k in task} | {"seeds": []}
            known = {r["seed"] for r in raw[name]["seeds"]}
            repeated = sorted(known & {r["seed"] for r in task["seeds"]})
            if repeated:
                raise SystemExit(f"{path}: {name} seeds {repeated} are in an earlier part")
            raw[name]["seeds"] += task["seeds"]
        ends = [t["load_average_end"] for t in part["tasks"].values() if "load_average_end" in t]
        machine = part["machine"] | ({"load_average_end": ends[-1]} if ends else {})
        parts.append({"file": str(path), "tasks": {n: [r["seed"] for r in t["seeds"]]
                                                   for n, t in part["tasks"].items()},
                      "machine": machine, "seconds": part["seconds"]})
    return raw, settings, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, tiny budget, 1 epoch")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=160, help="evaluations per search")
    parser.add_argument("--epochs", type=int, default=None, help="default: per task")
    parser.add_argument("--tasks", default="digits,mnist1d")
    parser.add_argument("--strategy", default="nsga2", choices=sorted(STRATEGY_OPTIONS),
                        help="strategy of both searches (joint and architecture-only)")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="merge the results of earlier runs (same settings) into one")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget, args.epochs = 1, 8, 1
    out = args.out or Path("benchmarks/results") / (
        "quantization_quick.json" if args.quick else "quantization.json")
    start = time.perf_counter()
    if args.merge:
        raw, settings, parts = merge(args.merge)
        machine = parts[0]["machine"]
        seconds = sum(part["seconds"] for part in parts)
    else:
        torch.set_num_threads(1)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        machine = cpu_facts()
        console.print(f"CPU {machine['model']}, flags {machine['flags']}, load "
                      f"{machine['load_average']}; reference: full-INT8 largest sub-network; "
                      f"iso-accuracy = at most {100 * ISO_ACCURACY:.1f} pp below it",
                      highlight=False)
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        raw = {name: run_task(Task.trained(name, args.epochs or EPOCHS[name]), seeds,
                              args.budget, args.strategy) for name in args.tasks.split(",")}
        settings = {"strategy": args.strategy, "budget": args.budget,
                    "epochs": args.epochs or EPOCHS, "figures": FIGURES,
                    "objectives": OBJECTIVES, "iso_accuracy_pp": 100 * ISO_ACCURACY,
                    "quick": args.quick, "simq_nas_marks": SIMQ_NAS,
                    "remeasured": f"the {CANDIDATES} fastest candidates within the floor "
                                  f"and the reference, in turn, {REMEASURE} rounds: ratio "
                                  "of the medians",
                    "starting_design": "ends crossed with pure policies (corners), then the "
                                       "INT8 share spread (spread_groups)",
                    "accuracy": "validation split (the one searched on); the chosen "
                                "points' test-split accuracy beside it (test_accuracy_loss_pp)"}
        seconds = time.perf_counter() - start
        parts = [{"file": str(out), "tasks": {n: list(seeds) for n in raw},
                  "machine": machine | {"load_average_end": list(os.getloadavg())},
                  "seconds": seconds}]
    tasks = {name: summarize_task(task) for name, task in raw.items()}
    table = Table(title=f"joint search vs full INT8 largest ({settings['strategy']}, "
                        f"{settings['budget']} evaluations each; median (min-max) over seeds)")
    for column in ("task", "seeds", "joint latency x", "joint size x", "its test loss pp",
                   "arch-only+INT8 latency x", "arch-only+INT8 size x", "joint dominates",
                   "mixed beats uniform"):
        table.add_column(column, justify="right")
    for name, result in tasks.items():
        count = result["seed_count"]
        table.add_row(name, str(count), _show(result["best_at_iso_accuracy"]["latency_speedup"]),
                      _show(result["best_at_iso_accuracy"]["size_reduction"]),
                      _show(result["best_at_iso_accuracy"]["test_accuracy_loss_pp"]),
                      _show(result["arch_only_then_int8"]["latency_speedup"]),
                      _show(result["arch_only_then_int8"]["size_reduction"]),
                      f"{result['joint_dominates_arch_only_then_int8_somewhere']}/{count}",
                      f"{result['mixed_strictly_beats_uniform_int8_somewhere']}/{count}")
    console.print(table)
    levels = Table(title="the joint search at other accuracy losses (validation; its test loss)")
    for column in ("task", "loss", "latency x", "size x", "test loss pp"):
        levels.add_column(column, justify="right")
    for name, result in tasks.items():
        for level, sides in result["other_accuracy_loss"].items():
            joint = sides["joint"]
            levels.add_row(name, level, _show(joint["latency_speedup"]),
                           _show(joint["size_reduction"]), _show(joint["test_accuracy_loss_pp"]))
    console.print(levels)
    worst = min(tasks, key=lambda n: tasks[n]["best_at_iso_accuracy"]["latency_speedup"]["min"]
                or 0.0)
    summary = {
        "int8_baseline": {n: t["int8_baseline"] for n, t in tasks.items()},
        "best_at_iso_accuracy": {
            "latency_speedup": tasks[worst]["best_at_iso_accuracy"]["latency_speedup"]["min"],
            "size_reduction": tasks[worst]["best_at_iso_accuracy"]["size_reduction"]["min"],
            "accuracy": tasks[worst]["best_at_iso_accuracy"]["accuracy"]["min"],
            "test_accuracy_loss_pp": tasks[worst]["best_at_iso_accuracy"][
                "test_accuracy_loss_pp"]["max"],
            "task": worst, "note": "worst task, worst seed; per task medians below"},
        "arch_only_then_int8": {n: t["arch_only_then_int8"] for n, t in tasks.items()},
        "cpu_flags": machine["flags"],
        "machine": parts[0]["machine"],
        "settings": settings | {"seeds": {n: t["seed_count"] for n, t in tasks.items()}},
        "parts": parts, "tasks": tasks, "seconds": seconds,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    console.print(f"written {out} ({seconds:.0f} s of runs)")


if __name__ == "__main__":
    main()

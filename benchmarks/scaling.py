"""Evaluations per second with 1 and 2 Ray workers on evaluation-bound work, and what the
driver costs per evaluation.

Work: real sub-network measurements of the built-in elastic CNN on digits (accuracy on the
validation split after batch-norm recalibration, latency at batch 1, MACs, params; every
evaluation extracts and measures a sub-network), proposed at random into an SQLite study.
Each configuration (in-process, 1 Ray worker, 2 Ray workers; one torch thread per worker)
runs ``--repeats`` times; throughput is measured between the first and the last result
(so Ray's start and the actors' first build are left out), reported as the median with
min and max.

The machine's own ceiling is measured beside them: after each repeat's Ray runs, the very
evaluations they made run again in 1 and in 2 plain processes (spawned, each with a pickled
copy of the evaluator, as Ray's actors get; no Ray, no study, no driver). Two evaluations
at once on this 2-vCPU machine do not run as fast as one (they share the host's caches and
memory bandwidth), so ``machine_speedup_2`` bounds what any pool of workers can reach here,
and ``ray_share_of_machine_speedup`` is how much of it hwnas's Ray workers keep.

The driver's overhead is the wall time ``optimize``'s loop spends on anything but blocking
on the evaluations (``study.seconds["driver"]``: the strategy, proposing, claiming,
telling, every storage statement, submitting to and fetching results from the workers,
bookkeeping; not ``ray.wait`` itself, nor, in-process, the evaluation), per evaluation
between the first and the last result, over the mean evaluation time the workers measured
(``..._with_start``: from the loop's start, counting the first ask's start-up too). The
driver thread's CPU time over the same span (``driver_cpu_s_per_eval_steady``) is kept
beside it as a cross-check that does not grow with the machine's load.

Targets (issue 16): 2 workers >= 1.7x one worker on 2 cores; driver overhead < 5% of the
evaluation time. The machine (CPU, flags, load average before and after) is recorded:
on a loaded shared machine the speed-up is bounded by the cores other jobs leave free.

    flock /work/bench.lock .venv/bin/python benchmarks/scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import torch

from hwnas.distributed import RayExecutor
from hwnas.report.machine import machine_facts
from hwnas.study import InProcess, Study
from hwnas.supernets import create_supernet

SPEEDUP_TARGET = 1.7
OVERHEAD_TARGET = 0.05


def new_study(folder: Path, name: str, seed: int) -> Study:
    torch.manual_seed(seed)
    supernet = create_supernet("elastic_cnn").eval()
    return Study.create(folder / f"{name}-{seed}.db", supernet=supernet, dataset="digits",
                        objectives=["accuracy", "latency"], metrics=["macs", "params"],
                        strategy="random", seed=seed)


def one_run(folder: Path, name: str, workers: int | None, evaluations: int,
            seed: int) -> dict[str, Any]:
    study = new_study(folder, name, seed)
    stamps: list[float] = []
    driver_at: list[float] = []
    cpu_at: list[float] = []

    def stamp(result: Any) -> None:
        stamps.append(time.perf_counter())
        driver_at.append(study.seconds["driver"])
        cpu_at.append(time.thread_time())  # the driver's own thread: ray.wait sleeps in it

    executor = InProcess() if workers is None else RayExecutor(workers)
    start = time.perf_counter()
    study.optimize(evaluations, progress=False, executor=executor, callback=stamp)
    wall = time.perf_counter() - start
    finished = len(study.finished())
    evaluate = study.seconds["evaluate"] / max(finished, 1)
    driver = study.seconds["driver"] / max(finished, 1)
    steady = (driver_at[-1] - driver_at[0]) / (len(driver_at) - 1)  # after the first result
    cpu = (cpu_at[-1] - cpu_at[0]) / (len(cpu_at) - 1)
    return {"name": name, "workers": workers or 0, "seed": seed, "evaluations": finished,
            "configs": [result.config for result in study.finished()],
            "wall_s": round(wall, 3),
            "evals_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
            "evaluate_s_per_eval": evaluate, "driver_s_per_eval": driver,
            "driver_s_per_eval_steady": steady,
            "driver_cpu_s_per_eval_steady": cpu if workers is not None else None,
            "driver_overhead_fraction": steady / evaluate,
            "driver_overhead_fraction_with_start": driver / evaluate}


def _evaluate_share(evaluate: Any, configs: list[dict[str, Any]], ends: Any) -> None:
    torch.set_num_threads(1)
    for config in configs:
        evaluate(config)
        ends.put(time.perf_counter())  # CLOCK_MONOTONIC: one clock for every process


def plain_run(folder: Path, name: str, processes: int, configs: list[dict[str, Any]],
              seed: int) -> dict[str, Any]:
    """The same evaluations in ``processes`` plain spawned processes, each its share in turn:
    no Ray, no study, no driver. Its throughput (between the first and the last result, as
    for Ray) is what this machine gives one or two evaluations at once, the ceiling for
    Ray's speed-up."""
    evaluate = new_study(folder, name, seed).evaluator()
    context = multiprocessing.get_context("spawn")  # each gets a pickled copy, as on Ray
    ends = context.Queue()
    workers = [context.Process(target=_evaluate_share,
                               args=(evaluate, configs[start::processes], ends))
               for start in range(processes)]
    for worker in workers:
        worker.start()
    stamps = sorted(ends.get(timeout=600) for _ in configs)
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"a plain evaluation process exited with {worker.exitcode}")
    return {"name": name, "workers": processes, "seed": seed, "evaluations": len(configs),
            "evals_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0])}


def summary(runs: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [r[key] for r in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few evaluations, one repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--evaluations", type=int, default=40,
                        help="per run with one worker (twice as many with two)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    repeats, evaluations = (1, 6) if args.quick else (args.repeats, args.evaluations)
    out = args.out or Path("benchmarks/results/scaling_quick.json" if args.quick
                           else "benchmarks/results/scaling.json")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    import ray

    before = machine_facts()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 2**20)
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for seed in range(repeats):  # interleaved, so a change in load hits all alike
                for name, workers, count in (("in_process", None, evaluations),
                                             ("ray_1", 1, evaluations),
                                             ("ray_2", 2, 2 * evaluations)):
                    run = one_run(Path(folder), name, workers, count, seed)
                    runs.append(run)
                    print(f"{name:10s} seed {seed}: {run['evals_per_s']:.2f} evals/s, "
                          f"evaluation {run['evaluate_s_per_eval']:.3f} s, driver "
                          f"{1e3 * run['driver_s_per_eval_steady']:.2f} ms = "
                          f"{100 * run['driver_overhead_fraction']:.2f}% of it", flush=True)
                made_by = {1: runs[-2].pop("configs"), 2: runs[-1].pop("configs")}
                runs[-3].pop("configs")
                for processes in (1, 2):  # the very evaluations Ray's runs made
                    name = f"plain_{processes}"
                    run = plain_run(Path(folder), name, processes, made_by[processes], seed)
                    runs.append(run)
                    print(f"{name:10s} seed {seed}: {run['evals_per_s']:.2f} evals/s",
                          flush=True)
    finally:
        ray.shutdown()
    after = machine_facts()
    plain = {name: [r for r in runs if r["name"] == name] for name in ("plain_1", "plain_2")}
    by_name = {name: [r for r in runs if r["name"] == name]
               for name in ("in_process", "ray_1", "ray_2")}
    throughput = {name: summary(group, "evals_per_s")
                  for name, group in {**by_name, **plain}.items()}
    speedups = [two["evals_per_s"] / one["evals_per_s"]
                for one, two in zip(by_name["ray_1"], by_name["ray_2"])]
    ceilings = [two["evals_per_s"] / one["evals_per_s"]
                for one, two in zip(plain["plain_1"], plain["plain_2"])]
    overhead = summary(by_name["ray_2"], "driver_overhead_fraction")
    speedup = throughput["ray_2"]["median"] / throughput["ray_1"]["median"]
    ceiling = throughput["plain_2"]["median"] / throughput["plain_1"]["median"]
    result = {
        "workers": {"1": throughput["ray_1"]["median"], "2": throughput["ray_2"]["median"]},
        "in_process": throughput["in_process"]["median"],
        "speedup_2": speedup,
        "speedup_2_per_repeat": speedups,
        "plain_processes": {"1": throughput["plain_1"]["median"],
                            "2": throughput["plain_2"]["median"]},
        "machine_speedup_2": ceiling,
        "machine_speedup_2_per_repeat": ceilings,
        "ray_share_of_machine_speedup": speedup / ceiling,
        "driver_overhead_fraction": overhead["median"],
        "driver_overhead_fraction_per_repeat": [r["driver_overhead_fraction"]
                                                for r in by_name["ray_2"]],
        "driver_ms_per_eval": {name: summary([{"ms": 1e3 * r["driver_s_per_eval_steady"]}
                                              for r in group], "ms")
                               for name, group in by_name.items()},
        "driver_cpu_ms_per_eval": {
            name: summary([{"ms": 1e3 * r["driver_cpu_s_per_eval_steady"]} for r in group],
                          "ms") for name, group in by_name.items() if name != "in_process"},
        "throughput": throughput,
        "driver_overhead": {name: summary(group, "driver_overhead_fraction")
                            for name, group in by_name.items()},
        "driver_overhead_with_start": {
            name: summary(group, "driver_overhead_fraction_with_start")
            for name, group in by_name.items()},
        "targets": {"speedup_2": SPEEDUP_TARGET, "speedup_2_met": speedup >= SPEEDUP_TARGET,
                    "driver_overhead_fraction": OVERHEAD_TARGET,
                    "driver_overhead_met": overhead["median"] < OVERHEAD_TARGET},
        "work": "elastic_cnn (untrained weights) on digits: accuracy (BN recalibration + "
                "validation), latency@b1 (torch), macs, params; random proposals; SQLite study",
        "settings": {"repeats": repeats, "evaluations_1_worker": evaluations,
                     "evaluations_2_workers": 2 * evaluations, "torch_threads_per_worker": 1,
                     "ray_num_cpus": 2, "quick": args.quick},
        "machine": {**before, "load_average_before": before["load_average"],
                    "load_average_after": after["load_average"],
                    "cpus_available": len(os.sched_getaffinity(0))},
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"1 worker {result['workers']['1']:.2f} evals/s, 2 workers "
          f"{result['workers']['2']:.2f} evals/s: speed-up {speedup:.2f}x (the same "
          f"evaluations in 2 plain processes: {ceiling:.2f}x one, per repeat "
          f"{', '.join(f'{x:.2f}' for x in ceilings)}; target >= "
          f"{SPEEDUP_TARGET}: {'met' if result['targets']['speedup_2_met'] else 'missed'}); "
          f"driver overhead {100 * overhead['median']:.2f}% of the evaluation time (target < "
          f"{100 * OVERHEAD_TARGET:.0f}%: "
          f"{'met' if result['targets']['driver_overhead_met'] else 'missed'}); per repeat: "
          f"speed-up {', '.join(f'{x:.2f}' for x in speedups)}, driver overhead "
          f"{', '.join(f'{100 * x:.2f}%' for x in result['driver_overhead_fraction_per_repeat'])}"
          f"; load average "
          f"{before['load_average']} -> {after['load_average']}; wrote {out}")


if __name__ == "__main__":
    main()

"""What the search loop's driver costs per evaluation, now and at an earlier commit.

The driver is everything ``optimize`` does besides evaluating: the strategy, proposing,
claiming, telling, storage. To see it alone, the evaluator returns at once (the
quickstart's five figures, derived from the config: ``study_overhead.instant_evaluator``);
the search is the scaling benchmark's (random proposals on the elastic-CNN space into an
SQLite study, in-process). Per evaluation between the first and the last result: the
driver's wall time (``study.seconds["driver"]``) and the driver thread's CPU time (which
load on the machine inflates far less). ``--before COMMIT`` measures the ``src`` of that
commit too (``git archive``), in alternation with the working tree, so both see the same
load; each run is a fresh process. ``--components`` adds the CPU time of the main steps
over the whole search (first uses included) per evaluation (one run each, with timers
around them; the timers cost a little too).

    flock /work/bench.lock .venv/bin/python benchmarks/driver_profile.py --before aeccb57
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: the loop's steps timed with ``--components`` (module, class or None, attribute)
STEPS = [("hwnas.study.ask_tell", "AskTell", "_ask"),
         ("hwnas.study.ask_tell", "AskTell", "_propose"),
         ("hwnas.study.ask_tell", "AskTell", "tell"),
         ("hwnas.study.trials", "TrialStore", "_trials"),
         ("hwnas.study.trials", "TrialStore", "_claim_waiting_trial"),
         ("hwnas.strategies.random_search", "RandomSearch", "ask"),
         ("hwnas.storage", None, "claim_trial"),
         ("hwnas.storage", None, "complete_trial"),
         ("hwnas.storage", None, "add_trials"),
         ("hwnas.storage", None, "count_trials")]


def _timed(spent: dict[str, float], label: str, function: Any) -> Any:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - start
    return timed


def _install_timers(spent: dict[str, float]) -> None:
    import importlib

    for module_name, class_name, name in STEPS:
        module = importlib.import_module(module_name)
        owner = getattr(module, class_name) if class_name else module
        if not hasattr(owner, name):
            continue
        wrapped = _timed(spent, f"{class_name or module_name.split('.')[-1]}.{name}",
                         getattr(owner, name))
        setattr(owner, name, wrapped)
        if class_name is None:  # the study modules imported the function by name
            for user in ("hwnas.study.ask_tell", "hwnas.study.trials"):
                importer = importlib.import_module(user)
                if getattr(importer, name, None) is not None:
                    setattr(importer, name, wrapped)


def measure(evaluations: int, seed: int, components: bool) -> dict[str, Any]:
    """One search in this process (run by the parent with the code under test first on
    ``sys.path``)."""
    import optuna
    import torch

    sys.path.insert(0, str(HERE))
    from study_overhead import instant_evaluator

    from hwnas.study import Study
    from hwnas.supernets import create_supernet

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    spent: dict[str, float] = collections.defaultdict(float)
    if components:
        _install_timers(spent)
    space = create_supernet("elastic_cnn").space
    with tempfile.TemporaryDirectory() as folder:
        study = Study.create(Path(folder) / "s.db", space=space, evaluator=instant_evaluator,
                             objectives=["accuracy", "latency"],
                             metrics=["macs", "params", "model_size"], strategy="random",
                             seed=seed)
        stamps: list[tuple[float, float, float]] = []
        study.optimize(evaluations, progress=False, callback=lambda result: stamps.append(
            (time.perf_counter(), study.seconds["driver"], time.thread_time())))
    steps = len(stamps) - 1
    return {"driver_ms_per_eval": 1e3 * (stamps[-1][1] - stamps[0][1]) / steps,
            "cpu_ms_per_eval": 1e3 * (stamps[-1][2] - stamps[0][2]) / steps,
            "wall_ms_per_eval": 1e3 * (stamps[-1][0] - stamps[0][0]) / steps,
            "components_cpu_ms_per_eval": {k: 1e3 * v / len(stamps)
                                           for k, v in sorted(spent.items())}}


def _run(src: Path | None, evaluations: int, seed: int, components: bool) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, __file__, "--child", str(evaluations), str(seed)]
    if components:
        command.append("--components")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]),
                                 "--components" in sys.argv)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=None, help="a commit to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--components", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "driver_profile.json")
    args = parser.parse_args()
    from hwnas.report.machine import machine_facts

    before_facts = machine_facts()
    with tempfile.TemporaryDirectory() as folder:
        sources: dict[str, Path | None] = {"now": HERE.parent / "src"}
        if args.before:
            archive = Path(folder) / "src.tar"
            subprocess.run(["git", "archive", "-o", str(archive), args.before, "src"],
                           cwd=HERE.parent, check=True)
            with tarfile.open(archive) as tar:
                tar.extractall(folder, filter="data")
            sources = {"before": Path(folder) / "src", **sources}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sources}
        for seed in range(args.repeats):  # alternating, so both see the same load
            for name, src in sources.items():
                runs[name].append(_run(src, args.evaluations, seed, False))
                print(f"{name:6s} seed {seed}: driver {runs[name][-1]['driver_ms_per_eval']:.2f}"
                      f" ms/evaluation (CPU {runs[name][-1]['cpu_ms_per_eval']:.2f})", flush=True)
        parts = {name: _run(src, args.evaluations, 0, True)["components_cpu_ms_per_eval"]
                 for name, src in sources.items()} if args.components else {}
    result = {
        "work": f"{args.evaluations} random proposals on elastic_cnn's space, SQLite, "
                "in-process, an evaluator that returns at once (study_overhead's)",
        "commit_before": args.before,
        "driver_ms_per_eval": {n: _summary([r["driver_ms_per_eval"] for r in rs])
                               for n, rs in runs.items()},
        "driver_cpu_ms_per_eval": {n: _summary([r["cpu_ms_per_eval"] for r in rs])
                                   for n, rs in runs.items()},
        "components_cpu_ms_per_eval": parts, "runs": runs,
        "machine": {**before_facts, "load_average_after": machine_facts()["load_average"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name in runs:
        wall, cpu = result["driver_ms_per_eval"][name], result["driver_cpu_ms_per_eval"][name]
        print(f"{name}: driver {wall['median']:.2f} ms/evaluation (min {wall['min']:.2f}, "
              f"max {wall['max']:.2f}); CPU {cpu['median']:.2f} ms (min {cpu['min']:.2f}, max "
              f"{cpu['max']:.2f})")
        for step, ms in parts.get(name, {}).items():
            print(f"    {step:32s} {ms:7.3f} ms/evaluation (CPU)")
    print(f"load average {before_facts['load_average']} -> "
          f"{result['machine']['load_average_after']}; wrote {args.out}")


if __name__ == "__main__":
    main()

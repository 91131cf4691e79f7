"""Constrained search on the search suite: how many full measurements a strategy needs to find
the *feasible* Pareto front, and how many of them it wastes on infeasible sub-networks,
against the same strategy searching without constraints and filtering afterwards.

The tasks are those of ``search_efficiency.py`` (tabulated: every sub-network pre-measured,
so the true feasible front is known). Per task, constraints are fixed before any run from
the table alone:

- ``tight``: the task's first latency objective at most its 10% quantile over the space
  (10% of the space feasible), an *expensive* key: every proposal is measured in full, so
  the strategy must predict feasibility to avoid waste;
- ``loose``: the same key at most its 50% quantile;
- ``tight_cheap``: parameters at most their 10% quantile, a *cheap* key: a violating
  proposal is screened (not measured in full), as a study does it (``hwnas.screening``).

Each hypervolume is against a reference point fixed per task and constraint before any run
and printed (:func:`feasible_reference`): the task's pinned accuracy floor (0.925 on cnn1d,
0.90 on the others, as in ``search_efficiency.py``, so chance-level cells do not own the
hypervolume), and per latency the slowest member of the true feasible front above the
floor plus 10% of that front's range. ``key_spread_near_bound`` is the table's own
measurement spread of the constrained key relative to its value, median over the
sub-networks within 20% of the bound: how far a prediction of feasibility can be right at
all. Per expensive level, a model fitted on the whole table gives two ceilings: the share of
infeasible sub-networks among those it deems feasible (what measuring them wastes), and the
fraction of the true feasible hypervolume those deemed feasible hold (where a search that
measures only them stops).

``--per-network`` (written as ``constrained_search_networks.json`` with ``--tag networks``)
gives the searchers each task's space with its ``canonicalize`` hook (``Task.space``: on the
cell tasks, configs of one network are one sub-network) and takes the levels' quantiles,
feasible fractions and fronts over the networks, one table row each. Without it the cell
tasks' bounds are quantiles over configs, and the cheap networks have many configs each:
the config-level 10% latency bound of ``cells`` keeps 1,589 configs but only 153 of the
9,445 networks (1.6%) feasible, and a search on the configs measures the same feasible
network several times (one linas run: 20 networks in 60 full measurements under the tight
bound). Each run records ``distinct_networks_measured`` (under the task's hook) beside
``full_measurements``. For each seed:

- ``evals_to_99``: full measurements of the constrained search until the feasible
  sub-networks it measured reach 99% of the true feasible front's hypervolume;
- ``infeasible_measurement_fraction``: of those full measurements, the fraction spent on
  infeasible sub-networks (over the whole budget when 99% is never reached);
- ``evals_to_99_unconstrained_then_filter``: the same strategy without constraints (one run
  per seed, filtered afterwards by each constraint) until its feasible measurements reach
  99%.

A run stops when it reaches 99% or after ``--budget`` full measurements (500); a run that
never reaches 99% counts as not reached (``null``), and a median over seeds is ``null``
when half or more did not reach it. The JSON holds medians with IQRs for ``linas`` (the
issue's shape) and, per method, every seed's figures.

    nice -n 10 python benchmarks/constrained_search.py           # 10 seeds, linas
    python benchmarks/constrained_search.py --quick              # 2 seeds, budget 200, 2 tasks
    python benchmarks/constrained_search.py --methods linas,nsga2 --tasks cnn1d
    python benchmarks/constrained_search.py --per-network --tasks cells,cells3 --tag networks
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency import TASKS, Task, load_tables  # noqa: E402

from hwnas.constraints import Constraint, total_violation  # noqa: E402
from hwnas.pareto import hypervolume, non_dominated, to_minimization  # noqa: E402
from hwnas.predictors.encoding import space_predictor  # noqa: E402
from hwnas.results import Result  # noqa: E402
from hwnas.strategies import create_strategy  # noqa: E402
from hwnas.strategies.base import bind_strategy  # noqa: E402
from hwnas.tabular import TabularBenchmark  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 500
SEEDS = 10
TARGET = 0.99
ALSO = (0.95, 0.98)
"""Lower hypervolume fractions also reported (evaluations to reach them)."""
LEVELS: dict[str, tuple[str, float]] = {"tight": ("latency", 0.10), "loose": ("latency", 0.50),
                                        "tight_cheap": ("params", 0.10)}
"""Constraint level -> (which key: the task's first latency objective, or params; the
quantile of the space its bound keeps feasible)."""
CHEAP_KEYS = ("params", "macs", "model_size")
METHOD_OPTIONS: dict[str, dict[str, Any]] = {"linas": {}, "nsga2": {}, "random": {}}


# -- the problem, fixed before any run ------------------------------------------------------
def network_rows(task: Task, bench: TabularBenchmark, per_network: bool) -> np.ndarray:
    """The table rows that count as the space: every row, or (``per_network``, on a task
    whose space has a ``canonicalize`` hook) one row per network, its canonical config's."""
    space = task.space(bench)
    if not per_network or space.canonicalize is None:
        return np.ones(len(bench), dtype=bool)
    return bench.canonical_rows(space)


def task_constraints(task: Task, bench: TabularBenchmark,
                     rows: np.ndarray | None = None) -> dict[str, Constraint]:
    """Per level, the bound at the level's quantile of the table's ``rows`` (default all;
    see :data:`LEVELS`)."""
    latency = next(name for name, _ in task.objectives if name.startswith("latency"))
    rows = np.ones(len(bench), dtype=bool) if rows is None else rows
    out = {}
    for level, (which, quantile) in LEVELS.items():
        key = latency if which == "latency" else which
        bound = float(np.quantile(bench.values([key])[rows, 0], quantile))
        out[level] = Constraint(key, "<=", round(bound, 6))
    return out


def feasible_mask(bench: TabularBenchmark, constraint: Constraint) -> np.ndarray:
    column = bench.values([constraint.key])[:, 0]
    return np.array([constraint.satisfied(v) for v in column])


def feasible_reference(values: np.ndarray, directions: Sequence[str],
                       floors: Sequence[float | None], margin: float = 0.1) -> list[float]:
    """The reference point of a feasible front (``search_efficiency``'s rule, on the
    feasible sub-networks): a maximised objective's floor is the task's pinned value when
    the feasible front has members above it (so chance-level sub-networks do not own the
    hypervolume), else the front's worst minus ``margin`` of its range; a minimised one is
    the worst value of the front members above the floors plus ``margin`` of their range."""
    front = values[non_dominated(values, directions)]
    above = np.ones(len(front), dtype=bool)
    for i, (direction, floor) in enumerate(zip(directions, floors)):
        if direction == "maximize" and floor is not None and np.any(front[:, i] > floor):
            above &= front[:, i] > floor
    kept = front[above] if above.any() else front
    low, high = kept.min(axis=0), kept.max(axis=0)
    span = np.where(high > low, high - low, np.abs(high) + 1e-12)
    point = []
    for i, (direction, floor) in enumerate(zip(directions, floors)):
        if direction == "maximize":
            use_floor = floor is not None and np.any(front[:, i] > floor)
            point.append(float(floor) if use_floor else float(low[i] - margin * span[i]))
        else:
            point.append(float(high[i] + margin * span[i]))
    return point


CEILING_MODELS = ("ridge", "gbt")


def whole_table_predictions(task: Task, bench: TabularBenchmark, rows: np.ndarray,
                            key: str) -> dict[str, np.ndarray]:
    """Per model of :data:`CEILING_MODELS`, ``key`` predicted on every row of ``rows`` by
    the model fitted on all of them (the log of the key; in-sample, so it knows more than
    any search)."""
    encoded = bench.configs[rows].astype(np.int64)
    target = np.log(bench.values([key])[rows, 0])
    space = task.space(bench)
    return {name: np.exp(space_predictor(space, name, "typed").fit(encoded, target)
                         .predict(encoded)) for name in CEILING_MODELS}


def model_ceiling(bench: TabularBenchmark, rows: np.ndarray, constraint: Constraint,
                  predicted: dict[str, np.ndarray]) -> dict[str, float | None]:
    """How predictable feasibility is from the architecture at all: per model
    (:func:`whole_table_predictions` of the constraint's key), the share of infeasible
    sub-networks among those it predicts feasible. A search that measures what such a
    model deems feasible wastes at least about this share."""
    feasible = feasible_mask(bench, constraint)
    out = {}
    for name, deemed in deemed_feasible(bench, rows, constraint, predicted).items():
        out[name] = round(float(np.mean(~feasible[deemed])), 4) if deemed.any() else None
    return out


def deemed_feasible(bench: TabularBenchmark, rows: np.ndarray, constraint: Constraint,
                    predicted: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per model, a mask over the table: the rows of ``rows`` whose predicted key
    (:func:`whole_table_predictions`) meets ``constraint``."""
    out = {}
    for name, column in predicted.items():
        mask = np.zeros(len(bench), dtype=bool)
        mask[np.flatnonzero(rows)] = [constraint.satisfied(v) for v in column]
        out[name] = mask
    return out


def reachable_hv_ceiling(bench: TabularBenchmark, rows: np.ndarray, constraint: Constraint,
                         predicted: dict[str, np.ndarray], values: np.ndarray,
                         directions: Sequence[str], reference: Sequence[float],
                         best: float) -> dict[str, float]:
    """The other side of :func:`model_ceiling`: per model, the fraction of the true feasible
    front's hypervolume held by the feasible sub-networks it deems feasible. A search that
    measures only what such a model deems feasible ends at this fraction; above it, it must
    measure sub-networks the model calls infeasible (the luckily-fast members of a noisy
    column), wasting measurements on the infeasible ones among them."""
    feasible = feasible_mask(bench, constraint)
    out = {}
    for name, deemed in deemed_feasible(bench, rows, constraint, predicted).items():
        kept = feasible & deemed
        out[name] = round(hypervolume(values[kept], directions, reference) / best, 4) \
            if kept.any() and best > 0 else 0.0
    return out


def problem_of(task: Task, bench: TabularBenchmark, per_network: bool = False
               ) -> dict[str, Any]:
    """The constraint levels, reference points and true feasible hypervolumes, fixed from
    the table; ``per_network``: the searchers see the task's hooked space, and the levels'
    quantiles, feasible fractions and fronts are taken over its networks (one row each)."""
    names = [n for n, _ in task.objectives]
    directions = [d for _, d in task.objectives]
    values = bench.values(names)
    rows = network_rows(task, bench, per_network)
    levels = {}
    predictions: dict[str, dict[str, np.ndarray]] = {}  # per expensive key, fitted once
    for level, constraint in task_constraints(task, bench, rows).items():
        mask = feasible_mask(bench, constraint) & rows
        floors = list(task.reference) if task.reference is not None else [None] * len(names)
        reference = feasible_reference(values[mask], directions, floors)
        best = hypervolume(values[mask], directions, reference)
        key, spread = bench.values([constraint.key])[:, 0], bench.spreads([constraint.key])[:, 0]
        near = (np.abs(key / constraint.bound - 1.0) <= 0.2) & rows
        ceiling = reachable = None  # a cheap key is screened, never measured in full
        if constraint.key not in CHEAP_KEYS:
            if constraint.key not in predictions:
                predictions[constraint.key] = whole_table_predictions(task, bench, rows,
                                                                      constraint.key)
            ceiling = model_ceiling(bench, rows, constraint, predictions[constraint.key])
            reachable = reachable_hv_ceiling(bench, rows, constraint,
                                             predictions[constraint.key], values, directions,
                                             reference, best)
        levels[level] = {"constraint": constraint.to_text(), "key": constraint.key,
                         "cheap": constraint.key in CHEAP_KEYS,
                         "feasible_fraction_of_space": float(mask.sum() / rows.sum()),
                         "key_spread_near_bound": float(np.median(spread[near] / key[near]))
                         if near.any() and np.all(key[near] != 0) else None,
                         "infeasible_share_of_model_deemed_feasible": ceiling,
                         "hv_fraction_within_model_deemed_feasible": reachable,
                         "reference": [round(v, 6) for v in reference],
                         "true_feasible_hv": best}
    return {"objectives": names, "directions": directions, "levels": levels,
            "per_network": bool(per_network and not rows.all())}


# -- one run -------------------------------------------------------------------------------
class FeasibleHV:
    """The hypervolume of the feasible sub-networks measured so far, as a fraction of the
    true feasible front's, updated one full measurement at a time."""

    def __init__(self, feasible: np.ndarray, directions: Sequence[str],
                 reference: Sequence[float], best: float) -> None:
        self.feasible, self.directions = feasible, list(directions)
        self.reference, self.best = list(reference), best
        self.front = np.empty((0, len(directions)))
        self.fraction = 0.0

    def add(self, row: int, point: np.ndarray) -> float:
        if self.feasible[row]:
            point = to_minimization(point[None, :], self.directions)[0]
            if not np.any(np.all(self.front <= point, axis=1)):
                self.front = np.vstack([self.front[~np.all(point <= self.front, axis=1)],
                                        point])
                self.fraction = hypervolume(to_minimization(self.front, self.directions),
                                            self.directions, self.reference) / self.best
        return self.fraction


def run_one(task_name: str, method: str, seed: int, budget: int,
            level: str | None) -> dict[str, Any]:
    """One search: constrained by ``level``'s constraint, or (``None``) unconstrained, then
    scored against every level. Stops at 99% of every scored level's feasible HV, or at
    ``budget`` full measurements."""
    bench, problem = _STATE["benches"][task_name], _STATE["problems"][task_name]
    names, directions = problem["objectives"], problem["directions"]
    values = bench.values(names)
    scored = [level] if level is not None else list(problem["levels"])
    constraints = {lv: Constraint(*_split(problem["levels"][lv]["constraint"])) for lv in scored}
    masks = {lv: feasible_mask(bench, c) for lv, c in constraints.items()}
    keys = sorted({*names, *(c.key for c in constraints.values())})
    table = {k: bench.values([k])[:, 0] for k in keys}
    active = [constraints[level]] if level is not None else []
    space = _STATE["tasks"][task_name].space(bench) if problem["per_network"] else bench.space
    strategy = bind_strategy(create_strategy(method, METHOD_OPTIONS.get(method, {})),
                             space, directions, seed, active)
    full: list[int] = []
    screened = 0
    told = 0
    reached: dict[str, int | None] = {lv: None for lv in scored}
    early: dict[str, dict[float, int | None]] = {lv: dict.fromkeys(ALSO) for lv in scored}
    scorers = {lv: FeasibleHV(masks[lv], directions, problem["levels"][lv]["reference"],
                              problem["levels"][lv]["true_feasible_hv"]) for lv in scored}
    fraction = {lv: 0.0 for lv in scored}
    start = time.process_time()
    while len(full) < budget and any(v is None for v in reached.values()):
        configs = strategy.ask(strategy.batch_size)
        if not configs:
            break
        batch = []
        for config in configs:
            row = bench.row(config)
            metrics = {k: float(table[k][row]) for k in keys}
            known = [c for c in active if c.key in CHEAP_KEYS]
            if known and total_violation(known, metrics) > 0:  # screened: cheap figures only
                batch.append(Result(told, config, space.arch_id(config), None,
                                    {c.key: metrics[c.key] for c in known}))
                screened += 1
            elif len(full) < budget:
                batch.append(Result(told, config, space.arch_id(config),
                                    tuple(float(v) for v in values[row]), metrics))
                full.append(row)
                for lv in scored:
                    fraction[lv] = scorers[lv].add(row, values[row])
                    if reached[lv] is None and fraction[lv] >= TARGET:
                        reached[lv] = len(full)
                    for level_fraction in ALSO:
                        if early[lv][level_fraction] is None and \
                                fraction[lv] >= level_fraction:
                            early[lv][level_fraction] = len(full)
            told += 1
        strategy.tell(batch)
    record: dict[str, Any] = {"task": task_name, "method": method, "seed": seed,
                              "constrained": level, "budget": budget,
                              "full_measurements": len(full), "screened": screened,
                              "distinct_networks_measured": len(set(
                                  _STATE["tasks"][task_name].space(bench).arch_ids(
                                      bench.configs[full]))) if full else 0,
                              "strategy_cpu_s": round(time.process_time() - start, 3),
                              "levels": {}}
    for lv in scored:
        upto = reached[lv] if reached[lv] is not None else len(full)
        infeasible = int((~masks[lv][full[:upto]]).sum()) if upto else 0
        record["levels"][lv] = {
            "evals_to_99": reached[lv],
            **{f"evals_to_{round(100 * f)}": early[lv][f] for f in ALSO},
            "infeasible_measurements": infeasible,
            "infeasible_measurement_fraction": infeasible / upto if upto else None,
            "hv_fraction_at_end": round(fraction[lv], 6)}
    return record


def _split(text: str) -> tuple[str, str, float]:
    from hwnas.constraints import parse_constraint

    parsed = parse_constraint(text)
    return parsed.key, parsed.op, parsed.bound


# -- many runs -----------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init(tasks: dict[str, Task], benches: dict[str, TabularBenchmark],
          problems: dict[str, Any]) -> None:
    from threadpoolctl import threadpool_limits

    _STATE.update(tasks=tasks, benches=benches, problems=problems)
    threadpool_limits(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def _job(job: tuple) -> dict[str, Any]:
    return run_one(*job)


def _median_iqr(values: Sequence[float | None], budget: int) -> dict[str, Any]:
    """Median and IQR over seeds; a not-reached run (None) counts as beyond the budget, and
    a median beyond it is None."""
    filled = np.array([v if v is not None else np.inf for v in values], dtype=float)
    if not len(filled):
        return {"median": None, "q25": None, "q75": None, "reached": 0, "runs": 0}
    q25, median, q75 = (float(np.quantile(filled, q, method="lower")) for q in (0.25, 0.5, 0.75))

    def clean(v: float) -> float | None:
        return None if not np.isfinite(v) else round(v, 4)

    return {"median": clean(median), "q25": clean(q25), "q75": clean(q75),
            "reached": int(np.isfinite(filled).sum()), "runs": len(filled)}


def summarise(records: list[dict[str, Any]], problems: dict[str, Any], methods: list[str],
              budget: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in methods:
        per_task: dict[str, Any] = {}
        for task, problem in problems.items():
            per_level = {}
            for level, info in problem["levels"].items():
                mine = [r for r in records if r["task"] == task and r["method"] == method
                        and r["constrained"] == level]
                plain = [r for r in records if r["task"] == task and r["method"] == method
                         and r["constrained"] is None]
                if not mine:
                    continue
                evals = [r["levels"][level]["evals_to_99"] for r in mine]
                fractions = [r["levels"][level]["infeasible_measurement_fraction"] for r in mine]
                baseline = [r["levels"][level]["evals_to_99"] for r in plain]
                base_fraction = [r["levels"][level]["infeasible_measurement_fraction"]
                                 for r in plain]
                e, b = _median_iqr(evals, budget), _median_iqr(baseline, budget)
                lower = {}
                for f in ALSO:
                    name = f"evals_to_{round(100 * f)}"
                    lower[name] = _median_iqr([r["levels"][level][name] for r in mine],
                                              budget)["median"]
                    lower[f"{name}_unconstrained_then_filter"] = _median_iqr(
                        [r["levels"][level][name] for r in plain], budget)["median"]
                ratio = (e["median"] / b["median"] if e["median"] is not None
                         and b["median"] not in (None, 0) else None)
                per_level[level] = {
                    "constraint": info["constraint"], "cheap_key": info["cheap"],
                    "feasible_fraction_of_space": round(info["feasible_fraction_of_space"], 4),
                    "key_spread_near_bound": info["key_spread_near_bound"],
                    "reference_point": info["reference"],
                    "infeasible_measurement_fraction": _median_iqr(fractions, budget)["median"],
                    "evals_to_99": e["median"],
                    "evals_to_99_unconstrained_then_filter": b["median"],
                    "evals_ratio": round(ratio, 4) if ratio is not None else None,
                    "spread": {"evals_to_99": e, "evals_to_99_unconstrained_then_filter": b,
                               "infeasible_measurement_fraction":
                                   _median_iqr(fractions, budget),
                               "unconstrained_infeasible_measurement_fraction":
                                   _median_iqr(base_fraction, budget)},
                    **lower,
                    "hv_fraction_at_end": float(np.median(
                        [r["levels"][level]["hv_fraction_at_end"] for r in mine])),
                    "hv_fraction_at_end_unconstrained_then_filter": float(np.median(
                        [r["levels"][level]["hv_fraction_at_end"] for r in plain])),
                    "screened_per_run": float(np.median([r["screened"] for r in mine])),
                    "seeds": len(mine)}
            per_task[task] = per_level
        out[method] = per_task
    return out


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's two targets at the tight (10%) levels, worst task first."""
    checks = []
    for task, levels in summary.items():
        for level in ("tight", "tight_cheap"):
            if level not in levels:
                continue
            row = levels[level]
            fraction, ratio = row["infeasible_measurement_fraction"], row["evals_ratio"]
            checks.append({
                "task": task, "level": level, "constraint": row["constraint"],
                "infeasible_measurement_fraction": fraction,
                "infeasible_below_10pct": fraction is not None and fraction < 0.10,
                "evals_ratio": ratio,
                "at_most_half_the_evaluations": ratio is not None and ratio <= 0.5,
                "evals_to_99": row["evals_to_99"],
                "evals_to_99_unconstrained_then_filter":
                    row["evals_to_99_unconstrained_then_filter"]})

    def badness(check: dict[str, Any]) -> tuple:
        return (check["at_most_half_the_evaluations"] + check["infeasible_below_10pct"],
                -(check["evals_ratio"] if check["evals_ratio"] is not None else 99.0),
                -(check["infeasible_measurement_fraction"] or 0.0))

    return sorted(checks, key=badness)


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
            "python": platform.python_version(), "note": "table lookups: not timing-sensitive"}


def print_report(data: dict[str, Any]) -> None:
    for method, per_task in data["methods"].items():
        print(f"\n{method}: medians over seeds (IQR in the JSON); evals = full measurements")
        print(f"{'task':8} {'level':12} {'constraint':24} {'feas':>6} {'infeas%':>8} "
              f"{'evals99':>8} {'uncons99':>9} {'ratio':>6} {'e95':>5} {'u95':>5} "
              f"{'e98':>5} {'u98':>5} {'screened':>8}")
        for task, levels in per_task.items():
            for level, row in levels.items():
                fraction = row["infeasible_measurement_fraction"]
                print(f"{task:8} {level:12} {row['constraint']:24} "
                      f"{row['feasible_fraction_of_space']:6.3f} "
                      f"{'-' if fraction is None else f'{100 * fraction:.1f}':>8} "
                      f"{str(row['evals_to_99']):>8} "
                      f"{str(row['evals_to_99_unconstrained_then_filter']):>9} "
                      f"{str(row['evals_ratio']):>6} {str(row['evals_to_95']):>5} "
                      f"{str(row['evals_to_95_unconstrained_then_filter']):>5} "
                      f"{str(row['evals_to_98']):>5} "
                      f"{str(row['evals_to_98_unconstrained_then_filter']):>5} "
                      f"{row['screened_per_run']:8.0f}")
    print(f"\ntargets at 10% feasible ({data['headline_method']}), worst first:")
    for check in data["targets"]:
        print(f"  {check['task']:8} {check['level']:12} infeasible "
              f"{check['infeasible_measurement_fraction']} (<0.10: "
              f"{check['infeasible_below_10pct']}), evals ratio {check['evals_ratio']} "
              f"(<=0.5: {check['at_most_half_the_evaluations']})")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, budget 200, tasks cnn1d and cells, linas; writes "
                             "constrained_search_quick.json")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--budget", type=int)
    parser.add_argument("--methods", default="linas")
    parser.add_argument("--tasks")
    parser.add_argument("--levels", default=",".join(LEVELS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--per-network", action="store_true",
                        help="the searchers see each task's space with its canonicalize hook "
                             "(the cell tasks: one config a network), and the levels' "
                             "quantiles and fronts are over networks")
    parser.add_argument("--problems-only", action="store_true",
                        help="fix and write the levels (bounds, feasible fractions, reference "
                             "points, how predictable feasibility is) without searching: "
                             "constrained_search_problems[_TAG].json")
    parser.add_argument("--tag", default="",
                        help="suffix of the JSON file name (nsga2: constrained_search_nsga2.json)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (2 if args.quick else SEEDS)
    budget = args.budget or (200 if args.quick else BUDGET)
    names = (args.tasks or ("cnn1d,cells" if args.quick else ",".join(TASKS))).split(",")
    methods = [m for m in args.methods.split(",") if m]
    levels = [lv for lv in args.levels.split(",") if lv]
    unknown = [n for n in names if n not in TASKS] + [lv for lv in levels if lv not in LEVELS]
    if unknown:
        parser.error(f"unknown task(s)/level(s) {unknown}; tasks: {', '.join(TASKS)}; "
                     f"levels: {', '.join(LEVELS)}")
    started = time.perf_counter()
    tasks, benches_by_table, skipped = load_tables({n: TASKS[n] for n in names})
    benches = {name: benches_by_table[task.table] for name, task in tasks.items()}
    problems = {name: problem_of(task, benches[name], args.per_network)
                for name, task in tasks.items()}
    for problem in problems.values():
        problem["levels"] = {lv: v for lv, v in problem["levels"].items() if lv in levels}
    for name, problem in problems.items():
        for level, info in problem["levels"].items():
            print(f"{name:8} {level:12} {info['constraint']:26} feasible "
                  f"{info['feasible_fraction_of_space']:.3f}  reference point "
                  f"{dict(zip(problem['objectives'], info['reference']))}; infeasible "
                  f"among model-deemed feasible "
                  f"{info['infeasible_share_of_model_deemed_feasible']}, HV they hold "
                  f"{info['hv_fraction_within_model_deemed_feasible']}")
    if args.problems_only:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"constrained_search_problems{'_' + args.tag if args.tag else ''}.json"
        path.write_text(json.dumps({"problems": problems, "skipped_tasks": skipped,
                                    "per_network": args.per_network, "machine": machine()},
                                   indent=1, default=float))
        print(f"wrote {path}")
        return {"problems": problems}
    jobs = [(name, method, seed, budget, level) for method in methods for name in problems
            for seed in range(seeds) for level in [None, *problems[name]["levels"]]]
    jobs.sort(key=lambda job: job[4] is not None)  # the long unconstrained runs first
    records = []
    with multiprocessing.get_context("fork").Pool(
            args.workers, initializer=_init, initargs=(tasks, benches, problems)) as pool:
        for done, record in enumerate(pool.imap_unordered(_job, jobs), 1):
            records.append(record)
            if done % 10 == 0 or done == len(jobs):
                print(f"  {done}/{len(jobs)} runs ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    summary = summarise(records, problems, methods, budget)
    headline = summary.get("linas") or summary[methods[0]]
    data = {
        "tasks": {task: {level: {k: row[k] for k in (
            "feasible_fraction_of_space", "infeasible_measurement_fraction", "evals_to_99",
            "evals_to_99_unconstrained_then_filter")} for level, row in levels.items()}
            for task, levels in headline.items()},
        "headline_method": "linas" if "linas" in summary else methods[0],
        "targets": targets(headline),
        "methods": summary,
        "settings": {"mode": "quick" if args.quick else "full", "seeds": seeds,
                     "budget": budget, "target_hv_fraction": TARGET, "levels": {
                         lv: {"key": LEVELS[lv][0], "quantile": LEVELS[lv][1]}
                         for lv in levels},
                     "reference_rule": "accuracy: the task's pinned floor; each latency: "
                                       "the slowest member of the true feasible front above "
                                       "the floor + 10% of that front's range; fixed from "
                                       "the table before any run",
                     "screened_count_as_evaluation": False,
                     "per_network": args.per_network},
        "problems": problems, "skipped_tasks": skipped, "machine": machine(),
        "elapsed_s": round(time.perf_counter() - started, 1),
        "runs": records,
    }
    if data["targets"]:
        data["worst_task"] = data["targets"][0]["task"]
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else "")
    path = args.out / f"constrained_search{suffix}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)
    print_report(data)
    print(f"wrote {path} ({time.perf_counter() - started:.0f} s)")
    return data


if __name__ == "__main__":
    main()

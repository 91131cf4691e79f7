"""Search efficiency over a suite of tabulated benchmarks: how many real evaluations each
method needs to find the true Pareto front of each task.

Every sub-network of each space is pre-measured (``hwnas.tabular``), so an evaluation is one
table lookup and the true front is known. For each (task, method, seed) the hypervolume of
the evaluated set, as a fraction of the true front's, is recorded after every evaluation,
against a reference point fixed in advance per task (:data:`TASKS`). The report
(``search_efficiency_report.py``) gives, per task, the median [IQR] HV fraction at
25..800 evaluations, the evaluations needed to reach random search's 800-evaluation HV
(``random@800``, median of 100 random-search seeds) and 98% / 99% of the true HV, the
duplicate fraction and the strategy's own milliseconds per proposal, then checks the targets
set for ``linas`` on every task and names the worst task.

    python benchmarks/search_efficiency.py                 # the whole suite, 10 seeds
    python benchmarks/search_efficiency.py --quick         # 3 seeds, 200 evals, 3 methods
    python benchmarks/search_efficiency.py --report        # summarise the cache, run nothing
    python benchmarks/search_efficiency.py --tasks cnn1d --methods random,linas --seeds 3

Each (task, method, seed) run is cached under ``runs/search_efficiency/``, keyed by the
table's contents, the budget, the method's options and a fingerprint of the code that
proposes (hwnas's strategies and space, or ``baselines.py``), so an interrupted run resumes
and a changed strategy is run again. A task whose table is not registered is skipped.

Which configs are one network: a table holds every config of its space (configs that build
one network share one measurement: the cells whose dead edges differ). A task may give the
searchers a space that knows this (:attr:`Task.canonicalize`, hwnas's ``canonicalize``
hook; the cells tasks use ``hwnas.cell_space.canonical_cell``, as ``cells_space()`` does),
so a method that compares configs by ``space.canonical`` / ``arch_id`` (hwnas's strategies,
BoTorch's pool) proposes each network once. Every proposal counts as an evaluation, a
second config of a measured network included: a user pays for it. random@800 stays
config-level (random search skipping measured *configs*, as the reference was fixed), and
the report gives, beside the duplicate share, the share of evaluations that repeated a
measured network (``network_duplicate_fraction``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from baselines import BotorchQLogNEHVI, DynasLinas, OptunaBaseline

from hwnas.errors import HwnasError
from hwnas.pareto import hypervolume, non_dominated, to_minimization
from hwnas.results import Result
from hwnas.space import Config, SearchSpace
from hwnas.strategies import create_strategy
from hwnas.tabular import BENCHMARKS, TabularBenchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "tabular"))  # the tables' own modules (hooks)
#: bump when a run's record changes meaning (invalidates the cache)
RUN_FORMAT = 3
BUDGET = 800
SEEDS = 10
RANDOM800_SEEDS = 100


# -- tasks: a table, objectives, and a reference point fixed before any run ----------------------
@dataclass(frozen=True)
class Task:
    """One search problem: ``objectives`` of ``table`` scored against ``reference``.

    The reference point is fixed before any run and published with the results. Rule used to
    choose it: an accuracy floor (a round constant: 0.925 on cnn1d, below every sub-network
    there; 0.90 on the new tables, which hold chance-level cells), and for each latency the
    slowest member of the true front above the floor plus 10% of that front's range,
    rounded up to two significant digits; a single slow outlier therefore cannot hand the
    most accurate sub-network a large share of the hypervolume. ``reference=None`` (a table
    not seen yet) applies the unrounded rule with the floor 10% of the front's accuracy range
    below its least accurate member, and says so; pin the figure.
    """

    name: str
    table: str
    objectives: tuple[tuple[str, str], ...]
    reference: tuple[float, ...] | None
    about: str = ""
    #: ``"module:function"``: the searchers' space is the table's with this ``canonicalize``
    #: hook (configs that are one network); None: the table's space as it is
    canonicalize: str | None = None

    def space(self, bench: TabularBenchmark) -> SearchSpace:
        """The space the searchers see: the table's dimensions, and the task's hook."""
        if self.canonicalize is None:
            return bench.space
        return SearchSpace(bench.space.dims, canonicalize=self.canonicalize)


TASKS: dict[str, Task] = {task.name: task for task in (
    Task("cnn1d", "mnist1d_cnn1d", (("accuracy", "maximize"), ("latency", "minimize")),
         (0.925, 0.21),
         "ordered widths/depths/kernels; front nadir (0.9325, 0.196 ms), table's slowest "
         "0.349 ms is a lone outlier (99.9th percentile 0.209 ms)"),
    Task("cells", "mnist1d_cells", (("accuracy", "maximize"), ("latency@b1", "minimize")),
         (0.90, 1.2),
         "cell-based, unordered op choice per edge; accuracy floor 0.90 (5.3% of the cells "
         "are below it, down to chance, 0.099); front above it: latency 0.281-1.029 ms",
         canonicalize="hwnas.cell_space:canonical_cell"),
    Task("blocks", "mnist1d_blocks", (("accuracy", "maximize"), ("latency", "minimize")),
         (0.90, 1.2),
         "conditional dimensions under a categorical block type; front above 0.90: latency "
         "0.303-1.058 ms"),
    Task("cells3", "mnist1d_cells", (("accuracy", "maximize"), ("latency@b1", "minimize"),
                                     ("latency@b32", "minimize")),
         (0.90, 1.2, 3.5),
         "three objectives: accuracy, latency at batch 1 and at batch 32; front above 0.90: "
         "latency@b32 0.694-3.209 ms", canonicalize="hwnas.cell_space:canonical_cell"),
)}


def nadir_reference(bench: TabularBenchmark, objectives: Sequence[tuple[str, str]],
                    margin: float = 0.1) -> list[float]:
    """The rule of :class:`Task`: the true front's nadir moved outwards by ``margin`` of the
    front's range per objective (unrounded)."""
    names = [name for name, _ in objectives]
    front = bench.values(names)[bench.pareto_front(objectives)]
    low, high = front.min(axis=0), front.max(axis=0)
    return [float(low[i] - margin * (high[i] - low[i]) if direction == "maximize"
                  else high[i] + margin * (high[i] - low[i]))
            for i, (_, direction) in enumerate(objectives)]


def reference_of(task: Task, bench: TabularBenchmark) -> list[float]:
    if task.reference is not None:
        return [float(v) for v in task.reference]
    reference = nadir_reference(bench, task.objectives)
    print(f"note: task {task.name!r} has no pinned reference point; using the rule "
          f"(front nadir + 10% of its range) = {[round(v, 4) for v in reference]}")
    return reference


# -- methods: one ask/tell shape over hwnas strategies and the baselines -------------------------
class StrategySearcher:
    """An hwnas strategy driven as a study drives it (``hwnas.testing.run_strategy``)."""

    def __init__(self, name: str, options: dict[str, Any], space: SearchSpace,
                 directions: Sequence[str], seed: int) -> None:
        self.strategy = create_strategy(name, options)
        self.strategy.bind(space, directions, seed)
        self.space, self.told = space, 0

    def ask(self, n: int) -> list[Config]:
        return self.strategy.ask(min(self.strategy.batch_size, n))

    def tell(self, configs: Sequence[Config], values: Sequence[Sequence[float]]) -> None:
        results = [Result(self.told + i, config, self.space.arch_id(config), tuple(value))
                   for i, (config, value) in enumerate(zip(configs, values))]
        self.told += len(results)
        self.strategy.tell(results)


#: (space, directions, seed, reference point, options) -> a searcher with ask/tell
Factory = Callable[[SearchSpace, Sequence[str], int, Sequence[float], dict[str, Any]], Any]
HWNAS_CODE = ("src/hwnas/strategies", "src/hwnas/predictors", "src/hwnas/space.py",
              "src/hwnas/pareto.py", "src/hwnas/results.py")
BASELINE_CODE = ("benchmarks/baselines.py",)


@dataclass(frozen=True)
class Method:
    name: str
    make: Factory
    options: dict[str, Any] = field(default_factory=dict)
    #: files whose contents key the cache (a changed strategy is run again)
    code: tuple[str, ...] = BASELINE_CODE
    #: optional packages it imports (checked before any run: ``pip install -e .[bench]``)
    requires: tuple[str, ...] = ()


def _hwnas(name: str) -> Factory:
    return lambda space, directions, seed, reference, options: StrategySearcher(
        name, options, space, directions, seed)


METHODS: dict[str, Method] = {method.name: method for method in (
    Method("random", _hwnas("random"), code=HWNAS_CODE),
    Method("nsga2", _hwnas("nsga2"), code=HWNAS_CODE),
    Method("linas", _hwnas("linas"), code=HWNAS_CODE),
    Method("optuna-nsga2", lambda s, d, seed, r, o: OptunaBaseline(s, d, seed, **o),
           {"sampler": "nsga2"}),
    Method("optuna-tpe", lambda s, d, seed, r, o: OptunaBaseline(s, d, seed, **o),
           {"sampler": "tpe", "multivariate": True}),
    # DyNAS-T's grids are 0.1, 0.2, .., 10 and 1, 2, .., 100 (100 points each): 20x slower
    # and the same optimum to 4 digits; 10 geometric points over the same ranges stand in
    Method("dynast-linas", lambda s, d, seed, r, o: DynasLinas(s, d, seed, **o),
           {"population": 50, "generations": 200,
            "alphas": [0.1, 0.17, 0.28, 0.46, 0.77, 1.3, 2.2, 3.6, 6.0, 10.0],
            "costs": [1.0, 1.7, 2.8, 4.6, 7.7, 13.0, 22.0, 36.0, 60.0, 100.0]}),
    # minutes per run even capped (two GP fits and ten greedy acquisition passes over the
    # candidates per batch): 500 candidates and 32 samples keep it to ~2 CPU-minutes a run
    Method("botorch-qlognehvi", lambda s, d, seed, r, o: BotorchQLogNEHVI(s, d, seed, r, **o),
           {"initial": 20, "batch": 10, "candidates": 500, "mc_samples": 32,
            "fit_iterations": 100}, requires=("botorch",)),
)}
#: methods too slow to run to the full budget: evaluations per run at most (reported null at
#: the checkpoints past it, and a target not reached within it counts as not reached)
EVALUATION_CAPS: dict[str, int] = {"botorch-qlognehvi": 200}
#: run order of a full suite, what completes first being the most useful: the cheap methods
#: on every task and seed; then the first 3 seeds of the two slow baselines; then the rest
PHASES: tuple[tuple[tuple[str, ...], range], ...] = (
    (("linas", "nsga2", "random", "optuna-tpe", "optuna-nsga2"), range(SEEDS)),
    (("dynast-linas", "botorch-qlognehvi"), range(3)),
    (("dynast-linas",), range(SEEDS)),
    (("botorch-qlognehvi",), range(SEEDS)),
)
QUICK_METHODS = ("random", "nsga2", "linas")


def code_fingerprint(paths: Iterable[str]) -> str:
    """A short hash of the named files (folders: their ``*.py`` files) and RUN_FORMAT."""
    digest = hashlib.sha1(str(RUN_FORMAT).encode())
    for name in paths:
        path = ROOT / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def table_fingerprint(bench: TabularBenchmark, objectives: Sequence[tuple[str, str]]) -> str:
    """A short hash of the table's configs and objective values (a rebuilt table gets a new
    cache)."""
    digest = hashlib.sha1(np.ascontiguousarray(bench.configs).tobytes())
    digest.update(np.ascontiguousarray(bench.values([n for n, _ in objectives])).tobytes())
    return digest.hexdigest()[:12]


# -- hypervolume -------------------------------------------------------------------------------
def hv_fraction_curve(points: np.ndarray, directions: Sequence[str],
                      reference: Sequence[float], best: float) -> np.ndarray:
    """Hypervolume of the first k points over ``best``, for every k (recomputed only when a
    point enters the front)."""
    minimized = to_minimization(points, directions)
    front = np.empty((0, len(directions)))
    fraction = 0.0
    out = np.empty(len(points))
    for k, point in enumerate(minimized):
        if not np.any(np.all(front <= point, axis=1)):
            front = np.vstack([front[~np.all(point <= front, axis=1)], point])
            fraction = hypervolume(to_minimization(front, directions), directions,
                                   reference) / best
        out[k] = fraction
    return out


def true_hypervolume(bench: TabularBenchmark, task: Task, reference: Sequence[float]) -> float:
    return bench.hypervolume_of_front(task.objectives, reference)


def sampling_weights(space: SearchSpace, bench: TabularBenchmark) -> np.ndarray:
    """Per table row, the probability that one uniform-per-dimension draw
    (:meth:`SearchSpace.sample`, which hwnas's ``random`` uses) lands on it: the product of
    ``1 / cardinality`` over the row's active dimensions."""
    weights = np.empty(len(bench))
    for row in range(len(bench)):
        config = bench.config(row)
        weights[row] = np.prod([1.0 / len(d.values) for d in space.dims
                                if space.is_active(d, config)])
    return weights


def random_search_hv(bench: TabularBenchmark, task: Task, reference: Sequence[float],
                     evaluations: int = BUDGET, seeds: int = RANDOM800_SEEDS) -> np.ndarray:
    """The HV fraction after ``evaluations`` of random search without repeats, for ``seeds``
    seeds, vectorised: drawing uniformly per dimension and skipping measured sub-networks
    visits rows in the order of ``Exp(1) / weight`` (Efraimidis-Spirakis weighted sampling
    without replacement), so each seed is one sort of the table."""
    names = [name for name, _ in task.objectives]
    directions = [direction for _, direction in task.objectives]
    values = bench.values(names)
    weights = sampling_weights(bench.space, bench)
    best = true_hypervolume(bench, task, reference)
    rng = np.random.default_rng(20261201)
    out = np.empty(seeds)
    count = min(evaluations, len(bench))
    for seed in range(seeds):
        keys = rng.exponential(size=len(bench)) / weights
        rows = np.argpartition(keys, count - 1)[:count]
        points = values[rows]
        out[seed] = hypervolume(points[non_dominated(points, directions)], directions,
                                reference) / best
    return out


# -- one run -------------------------------------------------------------------------------------
def run_one(task: Task, method: str, bench: TabularBenchmark, seed: int, budget: int,
            options: dict[str, Any], reference: Sequence[float]) -> dict[str, Any]:
    """Search with ``method`` until ``budget`` lookups (or its cap); the record holds the table
    rows in evaluation order, the HV-fraction curve and timings (``strategy_s``: CPU seconds
    in the searcher's construction, ``ask`` and ``tell``; ``wall_s``: the whole run). Every
    proposed evaluation counts, a repeat of a measured sub-network included (the baselines
    may propose one)."""
    names = [name for name, _ in task.objectives]
    directions = [direction for _, direction in task.objectives]
    table = bench.values(names)
    spec = METHODS[method]
    budget = min(budget, EVALUATION_CAPS.get(method, budget))
    start = time.perf_counter()
    clock = time.process_time  # CPU seconds: other processes on a busy machine do not count
    tick = clock()
    searcher = spec.make(task.space(bench), directions, seed, reference, options)
    strategy_s = clock() - tick
    rows: list[int] = []
    while len(rows) < budget:
        tick = clock()
        configs = searcher.ask(budget - len(rows))[: budget - len(rows)]
        strategy_s += clock() - tick
        if not configs:
            break
        batch = [bench.row(config) for config in configs]
        rows += batch
        tick = clock()
        searcher.tell(configs, [tuple(table[row]) for row in batch])
        strategy_s += clock() - tick
    wall_s = time.perf_counter() - start
    curve = hv_fraction_curve(table[rows], directions, reference,
                              true_hypervolume(bench, task, reference))
    return {"task": task.name, "method": method, "seed": seed, "budget": budget,
            "options": options, "reference": list(reference), "evaluations": len(rows),
            "distinct": len(set(rows)), "wall_s": wall_s, "strategy_s": strategy_s,
            "rows": rows, "hv_fraction": [round(float(v), 6) for v in curve]}


# -- many runs, cached, in worker processes ------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init_worker(tasks: dict[str, Task], benches: dict[str, TabularBenchmark],
                 references: dict[str, list[float]]) -> None:
    from threadpoolctl import threadpool_limits

    _STATE.update(tasks=tasks, benches=benches, references=references)
    threadpool_limits(1)
    import torch

    torch.set_num_threads(1)


#: a claim older than this is taken over (its process died); runs take minutes at most
CLAIM_STALE_S = 3600.0


def _claim(path: Path) -> bool:
    """Claim the run cached at ``path`` for this process, so that several suites started
    at once share the work; False if another live process holds a fresh claim."""
    claim = path.with_suffix(".claim")
    claim.parent.mkdir(parents=True, exist_ok=True)
    mine = f"{socket.gethostname()} {os.getpid()}"
    try:
        with open(claim, "x") as handle:
            handle.write(mine)
        return True
    except FileExistsError:
        try:
            host, _, pid = claim.read_text().partition(" ")
            fresh = time.time() - claim.stat().st_mtime < CLAIM_STALE_S
        except (FileNotFoundError, ValueError):  # released meanwhile
            return not path.exists() and _claim(path)
        if fresh and (host != socket.gethostname() or _alive(int(pid or 0))):
            return False
        claim.write_text(mine)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def _run_job(job: tuple[str, str, int, int, dict[str, Any], str | None]
             ) -> dict[str, Any] | None:
    """Run one job; with a cache path, claim it first (None: another process has it) and
    write the record there before returning it."""
    where = job[-1]
    if where is not None:
        path = Path(where)
        if path.exists() or not _claim(path):
            return json.loads(path.read_text()) if path.exists() else None
    return _run_job_claimed(job)


def _run_job_claimed(job: tuple[str, str, int, int, dict[str, Any], str | None]
                     ) -> dict[str, Any]:
    task_name, method, seed, budget, options, where = job
    path = None if where is None else Path(where)
    task = _STATE["tasks"][task_name]
    try:
        record = run_one(task, method, _STATE["benches"][task.table], seed, budget, options,
                         _STATE["references"][task_name])
        if path is not None:
            write_json(path, record)
    finally:
        if path is not None:
            path.with_suffix(".claim").unlink(missing_ok=True)
    return record


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1))
    temporary.replace(path)


def hook_fingerprint(task: Task) -> str:
    """A short hash of the task's ``canonicalize`` path and its module's code ('' without)."""
    if task.canonicalize is None:
        return ""
    module = task.canonicalize.partition(":")[0]
    spec = importlib.util.find_spec(module)
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    digest = hashlib.sha1(task.canonicalize.encode())
    if origin is not None and origin.exists():
        digest.update(origin.read_bytes())
    return digest.hexdigest()[:8]


def cache_path(cache_dir: Path, task: Task, bench: TabularBenchmark, method: str, seed: int,
               budget: int) -> Path:
    hook = hook_fingerprint(task)
    return (cache_dir / f"{task.name}-{table_fingerprint(bench, task.objectives)}"
            f"{'-net' + hook if hook else ''}"
            / f"{method}-seed{seed}-max{budget}-{code_fingerprint(METHODS[method].code)}.json")


def job_order(jobs: list[tuple[str, str, int, int, dict[str, Any]]]) -> list[tuple]:
    """Phase by phase (:data:`PHASES`), seed-major: an interrupted suite has every task at
    about the same number of seeds for the methods it reached."""
    def key(job: tuple) -> tuple:
        _, method, seed = job[:3]
        phase = next((i for i, (names, seeds) in enumerate(PHASES)
                      if method in names and seed in seeds), len(PHASES))
        within = PHASES[phase][0].index(method) if phase < len(PHASES) else 0
        return (phase, seed, within, job[0])

    return sorted(jobs, key=key)


def run_suite(tasks: dict[str, Task], benches: dict[str, TabularBenchmark],
              references: dict[str, list[float]], methods: Sequence[str],
              seeds: Sequence[int], budget: int, workers: int = 2,
              cache_dir: Path | None = None, options: dict[str, dict[str, Any]] | None = None,
              progress: bool = True, run: bool = True,
              on_record: Callable[[list[dict[str, Any]]], None] | None = None,
              ) -> list[dict[str, Any]]:
    """Every (task, method, seed) run's record; cached ones are read from ``cache_dir``;
    ``run=False`` only reads the cache. ``on_record(records)`` is called after each new run.
    Several suites started at once on the same cache share the runs: each claims a run
    before starting it, and waits for the runs another one claimed."""
    from hwnas.progress import progress_bar

    chosen = {m: {**METHODS[m].options, **(options or {}).get(m, {})} for m in methods}
    records, jobs = [], []
    for task in tasks.values():
        bench = benches[task.table]
        for method in methods:
            for seed in seeds:
                path = (None if cache_dir is None
                        else cache_path(cache_dir, task, bench, method, seed, budget))
                if path is not None and path.exists():
                    cached = json.loads(path.read_text())
                    if cached.get("options") == chosen[method]:
                        records.append(cached)
                        continue
                jobs.append((task.name, method, seed, budget, chosen[method],
                             None if path is None else str(path)))
    if not run or not jobs:
        return records
    for bench in benches.values():
        bench.row(bench.space.sample(np.random.default_rng(0)))  # id index, before the fork
    jobs, waiting = job_order(jobs), []
    with progress_bar(f"{len(jobs)} runs ({len(records)} cached)", total=len(jobs),
                      enabled=progress) as bar:
        if workers <= 1 or len(jobs) <= 1:
            _init_worker(tasks, benches, references)
            finished: Iterable[dict[str, Any]] = map(_run_job, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("fork").Pool(
                workers, _init_worker, (tasks, benches, references))
            finished = pool.imap(_run_job, jobs)
        try:
            for job, record in zip(jobs, finished):
                bar.update(advance=1)
                if record is None:  # another process is running it: wait below
                    waiting.append(job)
                    continue
                records.append(record)
                if on_record is not None:
                    on_record(records)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    if waiting:
        _init_worker(tasks, benches, references)
    for job in waiting:  # runs another suite claimed: read them when done, or run them
        path = Path(job[-1])
        while not path.exists() and not _claim(path):
            time.sleep(5.0)
        record = json.loads(path.read_text()) if path.exists() else _run_job_claimed(job)
        records.append(record)
        if on_record is not None:
            on_record(records)
    return records


def rescored(records: Sequence[dict[str, Any]], tasks: dict[str, Task],
             benches: dict[str, TabularBenchmark], references: dict[str, list[float]]
             ) -> list[dict[str, Any]]:
    """The records, each curve recomputed from its rows where it was scored against another
    reference point than its task's (a reference pinned after the run)."""
    out = []
    for record in records:
        task, reference = tasks[record["task"]], references[record["task"]]
        if record["reference"] != reference:
            bench = benches[task.table]
            values = bench.values([name for name, _ in task.objectives])[record["rows"]]
            curve = hv_fraction_curve(values, [d for _, d in task.objectives], reference,
                                      true_hypervolume(bench, task, reference))
            record = {**record, "reference": reference,
                      "hv_fraction": [round(float(v), 6) for v in curve]}
        out.append(record)
    return out


# -- a synthetic table -----------------------------------------------------------------------------
def synthetic_benchmark(space: SearchSpace, measure: Callable[[Config], Sequence[float]],
                        metrics: Sequence[tuple[str, str]] = (("accuracy", "maximize"),
                                                             ("latency", "minimize")),
                        name: str = "synthetic") -> TabularBenchmark:
    """A table of every sub-network of ``space`` with ``measure(config) -> values`` (one per
    metric): for tests, and to develop while a real table is being built."""
    configs = [space.canonical(c) for c in space.enumerate()]
    values = np.array([measure(c) for c in configs], dtype=np.float64).reshape(len(configs), -1)
    described = {m: {"direction": d, "unit": "", "repeats": 1} for m, d in metrics}
    return TabularBenchmark(
        space, np.stack([space.encode(c) for c in configs]),
        {m: values[:, i] for i, (m, _) in enumerate(metrics)},
        {m: np.zeros(len(configs)) for m, _ in metrics},
        {"metrics": described, "dataset": {"name": name}},
    )


# -- command line --------------------------------------------------------------------------------
def load_tables(tasks: dict[str, Task]) -> tuple[dict[str, Task], dict[str, TabularBenchmark],
                                                 dict[str, str]]:
    """The tasks whose table is registered, their tables, and {task: why skipped}."""
    ready, benches, skipped = {}, {}, {}
    for task in tasks.values():
        if task.table not in BENCHMARKS.names():
            skipped[task.name] = f"table {task.table!r} is not registered in hwnas.tabular"
            continue
        try:
            # config-level tables (every config its own row, as the figures were made); a
            # task's hook goes to the searchers' space only (Task.space)
            options = {"per_network": False} if task.canonicalize else {}
            bench = benches.get(task.table) or BENCHMARKS.create(task.table, **options)
            bench.values([name for name, _ in task.objectives])
        except HwnasError as error:
            skipped[task.name] = (f"table {task.table!r} is registered but cannot be read "
                                  f"(not built yet?): {str(error).split(' (')[0]}")
            continue
        benches[task.table], ready[task.name] = bench, task
    for name, why in skipped.items():
        print(f"note: skipping task {name!r}: {why}")
    return ready, benches, skipped


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    import search_efficiency_report as report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"3 seeds, budget 200, methods {','.join(QUICK_METHODS)}; "
                             "writes search_efficiency_quick.json")
    parser.add_argument("--seeds", type=int, help=f"seeds 0..N-1 (default {SEEDS})")
    parser.add_argument("--budget", type=int, help=f"evaluations per run (default {BUDGET})")
    parser.add_argument("--methods", help=f"comma list of {', '.join(METHODS)}")
    parser.add_argument("--tasks", default=",".join(TASKS),
                        help=f"comma list of {', '.join(TASKS)}")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes over runs (default 2; each single-threaded)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--report", action="store_true",
                        help="summarise the cached runs only, run nothing")
    parser.add_argument("--no-cache", action="store_true", help="rerun cached runs")
    parser.add_argument("--readme", action="store_true",
                        help="write the results into benchmarks/README.md (between its "
                             "markers)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (3 if args.quick else SEEDS)
    budget = args.budget or (200 if args.quick else BUDGET)
    methods = [m.strip() for m in (args.methods or ",".join(
        QUICK_METHODS if args.quick else METHODS)).split(",") if m.strip()]
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [m for m in methods if m not in METHODS] + [t for t in names if t not in TASKS]
    if unknown:
        parser.error(f"unknown method(s)/task(s) {unknown}; methods: {', '.join(METHODS)}; "
                     f"tasks: {', '.join(TASKS)}")
    missing = sorted({f"{m} needs {package}" for m in methods for package in METHODS[m].requires
                      if importlib.util.find_spec(package) is None})
    if missing and not args.report:
        parser.error(f"{'; '.join(missing)}: install the benchmark extra "
                     f"(.venv/bin/pip install -e '.[bench]') or leave the method out of "
                     f"--methods")

    started = time.perf_counter()
    tasks, benches, skipped = load_tables({n: TASKS[n] for n in names})
    references = {name: reference_of(task, benches[task.table]) for name, task in tasks.items()}
    random800 = {name: random_search_hv(benches[task.table], task, references[name])
                 for name, task in tasks.items()}
    suffix = "_quick" if args.quick else ""
    json_path = args.out / f"search_efficiency{suffix}.json"
    settings = {"mode": "quick" if args.quick else "full", "budget": budget,
                "seeds_planned": seeds, "methods_planned": methods,
                "caps": {m: c for m, c in EVALUATION_CAPS.items() if m in methods},
                "code_fingerprints": {m: code_fingerprint(METHODS[m].code) for m in methods}}

    def publish(records: list[dict[str, Any]], final: bool = False) -> dict[str, Any]:
        records = rescored(records, tasks, benches, references)
        data = report.results(tasks, benches, references, random800, records, methods,
                              settings, skipped, time.perf_counter() - started,
                              {name: task.space(benches[task.table])
                               for name, task in tasks.items()})
        write_json(json_path, data)
        if final:
            report.print_report(data)
            report.plot_curves(data, records, args.out / f"search_efficiency{suffix}.png")
        return data

    records = run_suite(tasks, benches, references, methods, range(seeds), budget,
                        args.workers, None if args.no_cache else ROOT / "runs"
                        / "search_efficiency", run=not args.report, on_record=publish)
    data = publish(records, final=True)
    if args.readme:
        report.update_readme(ROOT / "benchmarks" / "README.md", data)
    print(f"wrote {json_path} ({time.perf_counter() - started:.0f} s)")
    return data


if __name__ == "__main__":
    main()

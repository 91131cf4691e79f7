"""Search efficiency on a tabulated benchmark: how many real evaluations each method needs to
find the true Pareto front (validation accuracy up, latency down).

Every sub-network of the space is pre-measured (``hwnas.tabular``), so an evaluation is one
table lookup and the true front is known. For each method and seed the hypervolume of the
evaluated set, as a fraction of the true front's (reference: the worst value of each
objective over the table), is recorded after every evaluation; the script reports it at
50..800 evaluations (median and inter-quartile range over seeds), the evaluations needed to
reach 95% and 98% of the true hypervolume, wall time, and the strategy's own seconds per
proposed sub-network; then checks the targets set for ``linas``.

    python benchmarks/search_efficiency.py                       # everything, 10 seeds
    python benchmarks/search_efficiency.py --methods random,linas --seeds 3
    python benchmarks/search_efficiency.py --benchmark standin   # synthetic stand-in table

Each (method, seed) run is cached under ``runs/search_efficiency/`` (keyed by the table's
fingerprint), so a rerun after an interruption skips finished runs; ``--no-cache`` reruns.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from baselines import DynasLinas, OptunaBaseline

from hwnas.pareto import hypervolume, to_minimization
from hwnas.results import Result
from hwnas.space import Config, SearchSpace
from hwnas.strategies import create_strategy
from hwnas.tabular import TabularBenchmark, load_benchmark

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES: tuple[tuple[str, str], ...] = (("accuracy", "maximize"), ("latency", "minimize"))
CHECKPOINTS: tuple[int, ...] = (50, 100, 200, 400, 800)
TARGET_FRACTIONS = {"evals_to_95": 0.95, "evals_to_98": 0.98}
METHODS: tuple[str, ...] = ("random", "nsga2", "optuna-nsga2", "optuna-tpe", "dynast-linas",
                            "linas")
#: the options each method runs with (recorded in the results)
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "random": {},
    "nsga2": {},
    "linas": {},
    "optuna-nsga2": {"sampler": "nsga2"},
    "optuna-tpe": {"sampler": "tpe", "multivariate": True},
    # DyNAS-T's grids are 0.1, 0.2, .., 10 and 1, 2, .., 100 (100 points each): 20x slower
    # (minutes per inner loop at 700 samples) and the same optimum to 4 digits; 10 geometric
    # points over the same ranges stand in for them
    "dynast-linas": {"population": 50, "generations": 200,
                     "alphas": [0.1, 0.17, 0.28, 0.46, 0.77, 1.3, 2.2, 3.6, 6.0, 10.0],
                     "costs": [1.0, 1.7, 2.8, 4.6, 7.7, 13.0, 22.0, 36.0, 60.0, 100.0]},
}
#: methods too slow to run to the full budget: evaluations per run at most (see README)
EVALUATION_CAPS: dict[str, int] = {}
#: the methods linas must lead at 100 and 200 evaluations (target b)
RIVALS: tuple[str, ...] = ("nsga2", "optuna-nsga2", "optuna-tpe", "dynast-linas")


# -- searchers: one ask/tell shape over hwnas strategies and the baselines ---------------------
class _StrategySearcher:
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


def make_searcher(method: str, space: SearchSpace, directions: Sequence[str], seed: int,
                  options: dict[str, Any]) -> Any:
    """The searcher of ``method`` (one of :data:`METHODS`)."""
    if method in ("random", "nsga2", "linas"):
        return _StrategySearcher(method, options, space, directions, seed)
    if method in ("optuna-nsga2", "optuna-tpe"):
        return OptunaBaseline(space, directions, seed, **options)
    if method == "dynast-linas":
        return DynasLinas(space, directions, seed, **options)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


# -- one run -------------------------------------------------------------------------------------
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


def run_one(method: str, bench: TabularBenchmark, seed: int, max_evaluations: int,
            options: dict[str, Any]) -> dict[str, Any]:
    """Search with ``method`` until ``max_evaluations`` lookups (or its cap); the record holds
    the table rows in evaluation order, the HV-fraction curve and timings."""
    names = [name for name, _ in OBJECTIVES]
    directions = [direction for _, direction in OBJECTIVES]
    table = bench.values(names)
    budget = min(max_evaluations, EVALUATION_CAPS.get(method, max_evaluations))
    start = time.perf_counter()
    searcher = make_searcher(method, bench.space, directions, seed, options)
    strategy_s = time.perf_counter() - start
    rows: list[int] = []
    while len(rows) < budget:
        tick = time.perf_counter()
        configs = searcher.ask(budget - len(rows))[: budget - len(rows)]
        strategy_s += time.perf_counter() - tick
        if not configs:
            break
        batch = [bench.row(config) for config in configs]
        rows += batch
        tick = time.perf_counter()
        searcher.tell(configs, [tuple(table[row]) for row in batch])
        strategy_s += time.perf_counter() - tick
    wall_s = time.perf_counter() - start
    reference = bench.default_reference(OBJECTIVES)
    curve = hv_fraction_curve(table[rows], directions, reference,
                              bench.hypervolume_of_front(OBJECTIVES, reference))
    return {"method": method, "seed": seed, "max_evaluations": max_evaluations,
            "options": options, "evaluations": len(rows), "distinct": len(set(rows)),
            "wall_s": wall_s, "strategy_s": strategy_s, "rows": rows,
            "hv_fraction": [round(float(v), 6) for v in curve]}


# -- many runs, cached ---------------------------------------------------------------------------
def percentile_reference(bench: TabularBenchmark) -> list[float]:
    """A reference point no single outlier can move: each objective's 1st (maximised) or
    99th (minimised) percentile over the whole table."""
    table = bench.values([name for name, _ in OBJECTIVES])
    return [float(np.percentile(table[:, i], 1 if direction == "maximize" else 99))
            for i, (_, direction) in enumerate(OBJECTIVES)]


def rescore(record: dict[str, Any], bench: TabularBenchmark,
            reference: Sequence[float]) -> dict[str, Any]:
    """The record's HV-fraction curve against another reference point (from its rows)."""
    directions = [direction for _, direction in OBJECTIVES]
    table = bench.values([name for name, _ in OBJECTIVES])
    curve = hv_fraction_curve(table[record["rows"]], directions, reference,
                              bench.hypervolume_of_front(OBJECTIVES, reference))
    return {**record, "hv_fraction": [round(float(v), 6) for v in curve]}


def table_fingerprint(bench: TabularBenchmark) -> str:
    """A short hash of the table's configs and objective values (a rebuilt table gets a new
    cache)."""
    digest = hashlib.sha1(np.ascontiguousarray(bench.configs).tobytes())
    digest.update(np.ascontiguousarray(bench.values([n for n, _ in OBJECTIVES])).tobytes())
    return digest.hexdigest()[:12]


_BENCH: TabularBenchmark | None = None


def _init_worker(bench: TabularBenchmark) -> None:
    from threadpoolctl import threadpool_limits

    global _BENCH
    _BENCH = bench
    threadpool_limits(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _run_job(job: tuple[str, int, int, dict[str, Any]]) -> dict[str, Any]:
    method, seed, max_evaluations, options = job
    return run_one(method, _BENCH, seed, max_evaluations, options)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1))
    temporary.replace(path)


def run_all(bench: TabularBenchmark, methods: Sequence[str], seeds: Sequence[int],
            max_evaluations: int, workers: int = 2, cache_dir: Path | None = None,
            options: dict[str, dict[str, Any]] | None = None,
            progress: bool = True) -> list[dict[str, Any]]:
    """Every (method, seed) run's record; cached ones are read from ``cache_dir``."""
    from hwnas.progress import progress_bar

    options = {m: {**DEFAULT_OPTIONS.get(m, {}), **(options or {}).get(m, {})} for m in methods}
    records, jobs, paths = [], [], {}
    for method in methods:
        for seed in seeds:
            name = f"{method}-seed{seed}-max{max_evaluations}.json"
            path = None if cache_dir is None else cache_dir / name
            if path is not None and path.exists():
                cached = json.loads(path.read_text())
                if cached.get("options") == options[method]:
                    records.append(cached)
                    continue
            paths[(method, seed)] = path
            jobs.append((method, seed, max_evaluations, options[method]))
    bench.row(bench.space.largest())  # build the id index once, before the workers fork
    slow_first = {m: i for i, m in enumerate(("dynast-linas", "optuna-tpe", "linas"))}
    jobs.sort(key=lambda job: slow_first.get(job[0], len(slow_first)))
    with progress_bar(f"{len(jobs)} runs ({len(records)} cached)", total=len(jobs),
                      enabled=progress) as bar:
        if workers <= 1 or len(jobs) <= 1:
            _init_worker(bench)
            finished = map(_run_job, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (bench,))
            finished = pool.imap_unordered(_run_job, jobs)
        try:
            for record in finished:
                path = paths[(record["method"], record["seed"])]
                if path is not None:
                    _write_json(path, record)
                records.append(record)
                bar.update(advance=1)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    return records


# -- summary -----------------------------------------------------------------------------------
def _median_int(values: Sequence[float]) -> int | None:
    median = float(np.median(values))
    return int(math.ceil(median)) if math.isfinite(median) else None


def evals_to_reach(curve: Sequence[float], fraction: float) -> float:
    """The first evaluation count at which ``curve`` reaches ``fraction`` (inf if never)."""
    hits = np.flatnonzero(np.asarray(curve) >= fraction - 1e-12)
    return float(hits[0] + 1) if len(hits) else math.inf


def summarize(records: Sequence[dict[str, Any]], methods: Sequence[str],
              checkpoints: Sequence[int] = CHECKPOINTS) -> dict[str, dict[str, Any]]:
    """Per method: median and IQR HV fraction at each checkpoint (null where a run stopped
    before it), median evaluations to 95%/98% of the true HV (null if the median run never
    got there), and timings."""
    summary = {}
    for method in methods:
        runs = sorted((r for r in records if r["method"] == method), key=lambda r: r["seed"])
        if not runs:
            continue
        curves = [r["hv_fraction"] for r in runs]
        median, iqr = {}, {}
        for checkpoint in checkpoints:
            if all(len(c) >= checkpoint for c in curves):
                values = [c[checkpoint - 1] for c in curves]
                q1, q2, q3 = np.percentile(values, [25, 50, 75])
                median[str(checkpoint)] = round(float(q2), 4)
                iqr[str(checkpoint)] = [round(float(q1), 4), round(float(q3), 4)]
            else:
                median[str(checkpoint)] = iqr[str(checkpoint)] = None
        entry: dict[str, Any] = {}
        for key, fraction in TARGET_FRACTIONS.items():
            per_seed = [evals_to_reach(c, fraction) for c in curves]
            entry[key] = _median_int(per_seed)
            entry[f"{key}_per_seed"] = [int(v) if math.isfinite(v) else None for v in per_seed]
        evaluations = sum(r["evaluations"] for r in runs)
        entry.update({
            "hv_fraction": median,
            "hv_fraction_iqr": iqr,
            "final_hv_fraction": round(float(np.median([c[-1] for c in curves])), 4),
            "evaluations_per_run": max(r["evaluations"] for r in runs),
            "distinct_per_run": round(float(np.mean([r["distinct"] for r in runs])), 1),
            "wall_s_per_run": round(float(np.mean([r["wall_s"] for r in runs])), 2),
            "wall_s_total": round(float(sum(r["wall_s"] for r in runs)), 1),
            "strategy_s_per_proposal": round(sum(r["strategy_s"] for r in runs)
                                             / max(evaluations, 1), 5),
            "options": runs[0]["options"],
            "seeds_run": [r["seed"] for r in runs],
        })
        summary[method] = entry
    return summary


def target_checks(records: Sequence[dict[str, Any]],
                  summary: dict[str, dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    """(target, met, the figures) for the targets set for linas; ``met`` is None when a
    method it needs was not run."""
    checks: list[tuple[str, bool | None, str]] = []
    linas = summary.get("linas")
    random_800 = summary.get("random", {}).get("hv_fraction", {}).get("800")
    if linas is None or random_800 is None:
        checks.append(("a1 linas reaches random@800 within 100 evals", None,
                       "needs linas and random run to 800 evaluations"))
    else:
        curves = [r["hv_fraction"] for r in records if r["method"] == "linas"]
        needed = _median_int([evals_to_reach(c, random_800) for c in curves])
        speedup = "n/a" if needed is None else f"{800 / needed:.1f}x"
        checks.append(("a1 linas reaches random@800 within 100 evals",
                       needed is not None and needed <= 100,
                       f"random@800 = {random_800:.4f}; linas needs {needed} evals (median), "
                       f"speed-up {speedup} (target >= 8x)"))
    if linas is not None:
        needed = linas["evals_to_98"]
        checks.append(("a2 linas >= 98% of true HV within 200 evals",
                       needed is not None and needed <= 200,
                       f"linas evals_to_98 = {needed} (median); "
                       f"HV@200 = {linas['hv_fraction'].get('200')}"))
    for checkpoint in ("100", "200"):
        ours = None if linas is None else linas["hv_fraction"].get(checkpoint)
        rivals = {m: summary[m]["hv_fraction"].get(checkpoint) for m in RIVALS if m in summary}
        figures = ", ".join(f"{m} {v}" for m, v in rivals.items())
        if ours is None or len(rivals) < len(RIVALS) or None in rivals.values():
            checks.append((f"b linas ahead of every rival at {checkpoint}", None,
                           f"linas {ours}; {figures or 'no rivals run'}"))
            continue
        checks.append((f"b linas ahead of every rival at {checkpoint}",
                       all(ours > v for v in rivals.values()),
                       f"linas {ours} vs {figures}"))
    return checks


# -- output ------------------------------------------------------------------------------------
def results_json(summary: dict[str, dict[str, Any]], seeds: int, space_size: int
                 ) -> dict[str, Any]:
    return {"methods": summary, "seeds": seeds, "space_size": space_size}


def print_report(summary: dict[str, dict[str, Any]], checks: Sequence[tuple],
                 context: str, checkpoints: Sequence[int] = CHECKPOINTS) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"HV fraction of the true front (median [IQR] over seeds) - {context}")
    table.add_column("method")
    for checkpoint in checkpoints:
        table.add_column(f"@{checkpoint}", justify="right")
    for column in ("evals to 95%", "evals to 98%", "wall s/run", "strategy ms/proposal"):
        table.add_column(column, justify="right")
    for method, entry in summary.items():
        cells = []
        for checkpoint in checkpoints:
            value = entry["hv_fraction"][str(checkpoint)]
            low_high = entry["hv_fraction_iqr"][str(checkpoint)]
            cells.append("-" if value is None
                         else f"{value:.3f} [{low_high[0]:.3f}-{low_high[1]:.3f}]")
        reached = [f"{entry[k] if entry[k] is not None else 'never'} "
                   f"({sum(v is not None for v in entry[f'{k}_per_seed'])}/"
                   f"{len(entry[f'{k}_per_seed'])})" for k in TARGET_FRACTIONS]
        table.add_row(method, *cells, *reached, f"{entry['wall_s_per_run']:.1f}",
                      f"{1000 * entry['strategy_s_per_proposal']:.2f}")
    console = Console()
    if not console.is_terminal:  # a log file: do not squeeze the table into 80 columns
        console = Console(width=180)
    console.print(table)
    console.print("(evals to x%: median over seeds; in brackets, seeds that got there)")
    for name, met, figures in checks:
        verdict = {True: "[green]MET[/]", False: "[red]MISSED[/]", None: "[yellow]N/A[/]"}[met]
        console.print(f"{verdict}  {name}: {figures}")


def plot_curves(records: Sequence[dict[str, Any]], methods: Sequence[str], path: Path,
                title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    lowest = 1.0
    for method in methods:
        curves = [r["hv_fraction"] for r in records if r["method"] == method]
        if not curves:
            continue
        length = min(len(c) for c in curves)
        stacked = np.array([c[:length] for c in curves])
        x = np.arange(1, length + 1)
        q1, q2, q3 = np.percentile(stacked, [25, 50, 75], axis=0)
        (line,) = axes.plot(x, q2, label=method, linewidth=2 if method == "linas" else 1.3)
        axes.fill_between(x, q1, q3, color=line.get_color(), alpha=0.2, linewidth=0)
        lowest = min(lowest, float(q1[min(9, length - 1):].min()))
    for level in TARGET_FRACTIONS.values():
        axes.axhline(level, color="grey", linestyle=":", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xlim(10, None)
    axes.set_ylim(max(0.0, lowest - 0.02), 1.005)
    axes.set_xlabel("evaluations (table lookups)")
    axes.set_ylabel("hypervolume / true front's hypervolume")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    plt.close(figure)
    return path


# -- a stand-in table -------------------------------------------------------------------------
def synthetic_benchmark(space: SearchSpace,
                        measure: Callable[[Config], tuple[float, float]],
                        name: str = "synthetic") -> TabularBenchmark:
    """A table of every sub-network of ``space`` with ``measure(config) -> (accuracy,
    latency)``: for tests, and to develop while a real table is being built."""
    configs = list(space.enumerate())
    values = np.array([measure(c) for c in configs], dtype=np.float64)
    metrics = {"accuracy": {"direction": "maximize", "unit": "", "repeats": 1},
               "latency": {"direction": "minimize", "unit": "ms", "repeats": 1}}
    return TabularBenchmark(
        space, np.stack([space.encode(c) for c in configs]),
        {"accuracy": values[:, 0], "latency": values[:, 1]},
        {"accuracy": np.zeros(len(configs)), "latency": np.zeros(len(configs))},
        {"metrics": metrics, "dataset": {"name": name}},
    )


def standin_benchmark() -> TabularBenchmark:
    """The ``cnn1d_bench`` space (20,736 sub-networks) with made-up accuracy and latency: a
    saturating, noisy function of capacity, and MAC-like cost with per-block overheads."""
    from hwnas.supernets.cnn import cnn_space

    space = cnn_space([(16, 24, 32), (24, 32, 48), (32, 48, 64), (48, 64, 96)], (1, 2), (5,))

    def measure(config: Config) -> tuple[float, float]:
        rng = np.random.default_rng(int(space.arch_id(config), 16) % 2**32)
        macs, capacity, previous, length, blocks = 0.0, 0.0, 16, 40, 0
        for stage in range(4):
            length = length if stage == 0 else length // 2
            for block in range(config[f"stage{stage}.depth"]):
                width = config[f"stage{stage}.block{block}.width"]
                macs += previous * width * 5 * length
                capacity += np.log(width) * (1.0 + 0.4 * stage) * (1.0 if block == 0 else 0.6)
                previous, blocks = width, blocks + 1
        accuracy = 0.95 - 0.6 * np.exp(-capacity / 9.0) + rng.normal(0.0, 0.006)
        latency = 0.05 + macs / 2.0e7 + 0.01 * blocks + rng.gamma(2.0, 0.002)
        return float(accuracy), float(latency)

    return synthetic_benchmark(space, measure, "standin")


# -- command line --------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--max-evaluations", type=int, default=1000)
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma list of {', '.join(METHODS)}")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes over (method, seed) runs (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="folder for search_efficiency.json and .png")
    parser.add_argument("--benchmark", default="mnist1d_cnn1d",
                        help="a packaged table (hwnas.tabular) or 'standin' (synthetic)")
    parser.add_argument("--no-cache", action="store_true", help="rerun cached runs")
    parser.add_argument("--reference", choices=("worst", "p99"), default="worst",
                        help="HV reference point: the worst value of each objective in the "
                             "table (default), or its 1st/99th percentile, which a single "
                             "outlier cannot move (results get a _p99 suffix)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")

    bench = standin_benchmark() if args.benchmark == "standin" else load_benchmark(args.benchmark)
    cache_dir = (ROOT / "runs" / "search_efficiency"
                 / f"{args.benchmark}-{table_fingerprint(bench)}")
    records = run_all(bench, methods, range(args.seeds), args.max_evaluations, args.workers,
                      None if args.no_cache else cache_dir)
    reference = bench.default_reference(OBJECTIVES)
    suffix = ""
    if args.reference == "p99":
        reference, suffix = percentile_reference(bench), "_p99"
        records = [rescore(record, bench, reference) for record in records]
    summary = summarize(records, methods)
    checks = target_checks(records, summary)
    context = (f"{args.benchmark}, {len(bench):,} sub-networks, true front "
               f"{len(bench.pareto_front(OBJECTIVES))} points, reference {reference}, "
               f"{args.seeds} seeds")
    print_report(summary, checks, context)
    data = results_json(summary, args.seeds, len(bench))
    data["reference_point"] = [float(v) for v in reference]
    json_path = args.out / f"search_efficiency{suffix}.json"
    png_path = args.out / f"search_efficiency{suffix}.png"
    _write_json(json_path, data)
    plot_curves(records, methods, png_path,
                f"{args.benchmark}: {len(bench):,} sub-networks, {args.seeds} seeds")
    print(f"wrote {json_path} and {png_path}")
    return data


if __name__ == "__main__":
    main()

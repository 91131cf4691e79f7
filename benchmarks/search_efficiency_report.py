"""The figures, targets, table and plot of ``search_efficiency.py`` (from its run records).

Per task and method: the median and inter-quartile range over seeds of the HV fraction at
:data:`CHECKPOINTS` (null where the runs stopped earlier: a capped method), the median
evaluations to reach random@800 and 98% / 99% of the true HV (a seed that never gets there
counts as infinite; null when the median seed never got there), the share of evaluations
that repeated a measured config (``duplicate_fraction``) and a measured network
(``network_duplicate_fraction``: another config of it, by the task's space's ids), and the
strategy's own milliseconds per proposal.
Then the targets set for ``linas`` on every task, and the worst task.
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINTS: tuple[int, ...] = (25, 50, 100, 200, 400, 800)
FRACTIONS = {"evals_to_98": 0.98, "evals_to_99": 0.99}
#: linas must be ahead of every other method at these evaluation counts
LEAD_AT: tuple[int, ...] = (50, 100, 200)
MS_PER_PROPOSAL = 20.0


def evals_to_reach(curve: Sequence[float], fraction: float) -> float:
    """The first evaluation count at which ``curve`` reaches ``fraction`` (inf if never)."""
    hits = np.flatnonzero(np.asarray(curve) >= fraction - 1e-12)
    return float(hits[0] + 1) if len(hits) else math.inf


def _median_count(values: Sequence[float]) -> int | None:
    median = float(np.median(values))
    return int(math.ceil(median)) if math.isfinite(median) else None


def summarize_method(runs: Sequence[dict[str, Any]], random800: float,
                     distinct_networks: Sequence[int]) -> dict[str, Any]:
    """One method's figures over its runs; ``distinct_networks``: per run, the networks
    among its evaluations."""
    curves = [r["hv_fraction"] for r in runs]
    median: dict[str, float | None] = {}
    iqr: dict[str, list[float] | None] = {}
    for checkpoint in CHECKPOINTS:
        if all(len(c) >= checkpoint for c in curves):
            q1, q2, q3 = np.percentile([c[checkpoint - 1] for c in curves], [25, 50, 75])
            median[str(checkpoint)] = round(float(q2), 4)
            iqr[str(checkpoint)] = [round(float(q1), 4), round(float(q3), 4)]
        else:
            median[str(checkpoint)] = iqr[str(checkpoint)] = None
    entry: dict[str, Any] = {"seeds": len(runs), "hv_fraction": median, "hv_fraction_iqr": iqr}
    targets = {"evals_to_random800": random800, **FRACTIONS}
    for key, fraction in targets.items():
        per_seed = [evals_to_reach(c, fraction) for c in curves]
        entry[key] = _median_count(per_seed)
        entry[f"{key}_per_seed"] = [int(v) if math.isfinite(v) else None for v in per_seed]
    evaluations = sum(r["evaluations"] for r in runs)
    entry.update({
        "duplicate_fraction": round(1.0 - sum(r["distinct"] for r in runs)
                                    / max(evaluations, 1), 4),
        "network_duplicate_fraction": round(1.0 - sum(distinct_networks)
                                            / max(evaluations, 1), 4),
        "strategy_ms_per_proposal": round(1000.0 * sum(r["strategy_s"] for r in runs)
                                          / max(evaluations, 1), 3),
        "final_hv_fraction": round(float(np.median([c[-1] for c in curves])), 4),
        "evaluations_per_run": max(r["evaluations"] for r in runs),
        "wall_s_per_run": round(float(np.mean([r["wall_s"] for r in runs])), 2),
        "seeds_run": sorted(r["seed"] for r in runs),
        "options": runs[0]["options"],
    })
    return entry


def target_checks(methods: dict[str, dict[str, Any]],
                  planned: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The targets set for linas on one task: {"target", "met" (True/False/None = cannot
    tell), "figures"}; a lead over the methods run, naming the ``planned`` ones not run."""
    linas = methods.get("linas")
    if linas is None:
        return [{"target": "linas run", "met": None, "figures": "linas not run on this task"}]
    checks = []
    needed = linas["evals_to_random800"]
    checks.append({"target": "reaches random@800 within 100 evaluations",
                   "met": needed is not None and needed <= 100,
                   "figures": f"linas needs {needed} (median; "
                              f"{sum(v is not None for v in linas['evals_to_random800_per_seed'])}"
                              f"/{linas['seeds']} seeds get there)"})
    needed = linas["evals_to_99"]
    checks.append({"target": ">= 99% of the true HV within 200 evaluations",
                   "met": needed is not None and needed <= 200,
                   "figures": f"evals_to_99 = {needed}; HV@200 = {linas['hv_fraction']['200']}"})
    for checkpoint in LEAD_AT:
        key = str(checkpoint)
        ours = linas["hv_fraction"][key]
        others = {m: e["hv_fraction"][key] for m, e in methods.items() if m != "linas"}
        figures = f"linas {ours} vs " + ", ".join(f"{m} {v}" for m, v in others.items())
        if ours is None or None in others.values() or not others:
            met = None
        else:
            met = all(ours > v for v in others.values())
            if not met:
                figures += "; ahead of linas: " + ", ".join(
                    m for m, v in others.items() if v >= ours)
        absent = [m for m in planned if m != "linas" and m not in methods]
        if absent:
            figures += f"; not run on this task (yet): {', '.join(absent)}"
        checks.append({"target": f"ahead of every other method at {checkpoint}", "met": met,
                       "figures": figures})
    ms = linas["strategy_ms_per_proposal"]
    checks.append({"target": f"strategy time < {MS_PER_PROPOSAL:.0f} ms per proposal",
                   "met": ms < MS_PER_PROPOSAL, "figures": f"{ms:.2f} ms"})
    return checks


def worst_task(tasks: dict[str, dict[str, Any]]) -> str | None:
    """The task with the most targets missed, then the lowest linas HV fraction at 200."""
    def badness(name: str) -> tuple[int, float]:
        entry = tasks[name]
        missed = sum(check["met"] is False for check in entry["targets"])
        hv = (entry["methods"].get("linas", {}).get("hv_fraction", {}).get("200")
              or entry["methods"].get("linas", {}).get("hv_fraction", {}).get("100") or 0.0)
        return (-missed, hv)

    scored = [name for name in tasks if "linas" in tasks[name]["methods"]]
    return min(scored, key=badness) if scored else None


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def results(tasks: dict[str, Any], benches: dict[str, Any], references: dict[str, list[float]],
            random800: dict[str, np.ndarray], records: Sequence[dict[str, Any]],
            methods: Sequence[str], settings: dict[str, Any], skipped: dict[str, str],
            elapsed_s: float, spaces: dict[str, Any] | None = None) -> dict[str, Any]:
    """The results file's contents (see benchmarks/README.md). ``spaces``: per task, the
    space the searchers saw (its ids say which configs are one network; default the
    table's)."""
    out_tasks: dict[str, Any] = {}
    for name, task in tasks.items():
        bench = benches[task.table]
        space = (spaces or {}).get(name, bench.space)
        r800 = random800[name]
        summary = {}
        for method in methods:
            runs = sorted([r for r in records if r["task"] == name and r["method"] == method],
                          key=lambda r: r["seed"])
            if runs:
                networks = [len(set(space.arch_ids(bench.configs[r["rows"]]))) for r in runs]
                summary[method] = summarize_method(runs, float(np.median(r800)), networks)
        incomplete = {m: f"{summary.get(m, {}).get('seeds', 0)}/{settings['seeds_planned']}"
                      for m in methods
                      if summary.get(m, {}).get("seeds", 0) < settings["seeds_planned"]}
        out_tasks[name] = {
            "table": task.table, "about": task.about,
            "objectives": [list(o) for o in task.objectives],
            "reference_point": [round(v, 6) for v in references[name]],
            "reference_pinned": task.reference is not None,
            "space_size": len(bench),
            "networks": int(space.size()),
            "true_front_size": int(len(bench.pareto_front(task.objectives))),
            "random800_hv_fraction": round(float(np.median(r800)), 4),
            "random800_iqr": [round(float(v), 4) for v in np.percentile(r800, [25, 75])],
            "random800_seeds": len(r800),
            "methods": summary,
            "targets": target_checks(summary, methods),
            "complete": not incomplete,
            "incomplete_seeds": incomplete,
        }
    return {
        "tasks": out_tasks,
        "worst_task": worst_task(out_tasks),
        "skipped_tasks": skipped,
        **settings,
        "caps": {m: c for m, c in settings.get("caps", {}).items() if m in methods},
        "git_commit": _git_commit(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": round(elapsed_s, 1),
    }


def _cell(value: float | None, iqr: list[float] | None) -> str:
    return "-" if value is None else f"{value:.3f} [{iqr[0]:.3f}-{iqr[1]:.3f}]"


def print_report(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # a log file: do not squeeze the tables into 80 columns
        console = Console(width=220)
    worst = data["worst_task"]
    order = sorted(data["tasks"], key=lambda n: n != worst)  # the worst task first
    for name in order:
        entry = data["tasks"][name]
        table = Table(title=f"{name}{' (WORST TASK)' if name == worst else ''}: "
                            f"{entry['table']} {[o[0] for o in entry['objectives']]}, "
                            f"{entry['space_size']:,} sub-networks, true front "
                            f"{entry['true_front_size']}, reference {entry['reference_point']}; "
                            f"random@800 = {entry['random800_hv_fraction']:.4f}; HV fraction "
                            "median [IQR]")
        table.add_column("method")
        table.add_column("seeds", justify="right")
        for checkpoint in CHECKPOINTS:
            table.add_column(f"@{checkpoint}", justify="right")
        for column in ("to r@800", "to 98%", "to 99%", "dup", "net dup", "ms/prop"):
            table.add_column(column, justify="right")
        for method, m in entry["methods"].items():
            cells = [_cell(m["hv_fraction"][str(c)], m["hv_fraction_iqr"][str(c)])
                     for c in CHECKPOINTS]
            reached = [str(m[k]) if m[k] is not None else "never"
                       for k in ("evals_to_random800", *FRACTIONS)]
            table.add_row(method, str(m["seeds"]), *cells, *reached,
                          f"{m['duplicate_fraction']:.3f}",
                          f"{m['network_duplicate_fraction']:.3f}",
                          f"{m['strategy_ms_per_proposal']:.2f}")
        console.print(table)
        for check in entry["targets"]:
            verdict = {True: "[green]MET[/]", False: "[red]MISSED[/]",
                       None: "[yellow]N/A[/]"}[check["met"]]
            console.print(f"  {verdict}  {name}: linas {check['target']}: {check['figures']}")
        if entry["incomplete_seeds"]:
            console.print(f"  incomplete (seeds done/planned): {entry['incomplete_seeds']}")
    for name, why in data["skipped_tasks"].items():
        console.print(f"skipped {name}: {why}")
    console.print(f"worst task for linas: {worst}")


def plot_curves(data: dict[str, Any], records: Sequence[dict[str, Any]], path: Path) -> Path:
    """One panel per task: median HV fraction against evaluations, IQR bands, random@800."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(data["tasks"])
    figure, axes = plt.subplots(1, max(len(names), 1), figsize=(5.5 * max(len(names), 1), 4.5),
                                squeeze=False)
    for axis, name in zip(axes[0], names):
        lowest = 1.0
        for method in data["tasks"][name]["methods"]:
            curves = [r["hv_fraction"] for r in records
                      if r["task"] == name and r["method"] == method]
            length = min(len(c) for c in curves)
            stacked = np.array([c[:length] for c in curves])
            x = np.arange(1, length + 1)
            q1, q2, q3 = np.percentile(stacked, [25, 50, 75], axis=0)
            (line,) = axis.plot(x, q2, label=method, linewidth=2 if method == "linas" else 1.2)
            axis.fill_between(x, q1, q3, color=line.get_color(), alpha=0.15, linewidth=0)
            lowest = min(lowest, float(q1[min(9, length - 1):].min()))
        axis.axhline(data["tasks"][name]["random800_hv_fraction"], color="grey",
                     linestyle="--", linewidth=0.8, label="random@800")
        axis.axhline(0.99, color="grey", linestyle=":", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_xlim(10, None)
        axis.set_ylim(max(0.0, lowest - 0.02), 1.005)
        axis.set_xlabel("evaluations (table lookups)")
        axis.set_title(f"{name}{' (worst)' if name == data['worst_task'] else ''}")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("HV / true front's HV")
    fullest = max(range(len(names)), key=lambda i: len(data["tasks"][names[i]]["methods"]),
                  default=0)
    axes[0][fullest].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def markdown(data: dict[str, Any]) -> str:
    """The per-task tables and target verdicts as Markdown (for benchmarks/README.md), the
    worst task first."""
    worst = data["worst_task"]
    lines = []
    for name in sorted(data["tasks"], key=lambda n: n != worst):
        entry = data["tasks"][name]
        lines += [f"**{name}**{' (worst task)' if name == worst else ''}: `{entry['table']}`, "
                  f"objectives {', '.join(o[0] for o in entry['objectives'])}; reference "
                  f"{entry['reference_point']}; random@800 = {entry['random800_hv_fraction']}"
                  + ("" if entry["complete"] else
                     f"; incomplete (seeds done/planned): {entry['incomplete_seeds']}"), "",
                  "| method | seeds | " + " | ".join(f"@{c}" for c in CHECKPOINTS)
                  + " | to r@800 | to 98% | to 99% | dup | net dup | ms/prop |",
                  "|---" * (len(CHECKPOINTS) + 8) + "|"]
        for method, m in entry["methods"].items():
            cells = [_cell(m["hv_fraction"][str(c)], m["hv_fraction_iqr"][str(c)])
                     for c in CHECKPOINTS]
            reached = [str(m[k]) if m[k] is not None else "never"
                       for k in ("evals_to_random800", *FRACTIONS)]
            lines.append(f"| `{method}` | {m['seeds']} | " + " | ".join(cells + reached) +
                         f" | {m['duplicate_fraction']:.3f} | "
                         f"{m['network_duplicate_fraction']:.3f} | "
                         f"{m['strategy_ms_per_proposal']:.1f} |")
        lines.append("")
        for check in entry["targets"]:
            verdict = {True: "MET", False: "MISSED", None: "N/A"}[check["met"]]
            lines.append(f"- {verdict}: linas {check['target']} ({check['figures']})")
        lines.append("")
    return "\n".join(lines)


README_BEGIN = "<!-- search_efficiency results: written by search_efficiency.py --readme -->"
README_END = "<!-- end of search_efficiency results -->"


def tasks_markdown(data: dict[str, Any]) -> str:
    lines = ["| task | table | objectives | configs (networks) | true front | reference point "
             "(fixed in advance) | random@800 [IQR] |", "|---|---|---|---|---|---|---|"]
    for name, entry in data["tasks"].items():
        lines.append(f"| `{name}` | `{entry['table']}` | "
                     f"{', '.join(f'{o[0]} ({o[1][:3]})' for o in entry['objectives'])} | "
                     f"{entry['space_size']:,} ({entry.get('networks', entry['space_size']):,}) | "
                     f"{entry['true_front_size']} | "
                     f"{entry['reference_point']} | {entry['random800_hv_fraction']:.4f} "
                     f"[{entry['random800_iqr'][0]:.4f}-{entry['random800_iqr'][1]:.4f}] |")
    for name, why in data["skipped_tasks"].items():
        lines.append(f"| `{name}` | not run: {why} | | | | | |")
    return "\n".join(lines)


def update_readme(path: Path, data: dict[str, Any]) -> None:
    """Replace the results between :data:`README_BEGIN` and :data:`README_END` in ``path``."""
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"{path} has no results markers ({README_BEGIN!r} ... {README_END!r})")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    body = (f"Written {data['written']} at commit {data['git_commit']} ({data['mode']} mode: "
            f"budget {data['budget']}, {data['seeds_planned']} seeds planned; caps "
            f"{data['caps'] or 'none'}).\n\n{tasks_markdown(data)}\n\n{markdown(data)}")
    path.write_text(f"{head}{README_BEGIN}\n{body}\n{README_END}{tail}")

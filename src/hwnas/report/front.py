"""The Pareto front as a table (terminal), a CSV file and a plot (PNG); a search space as a
table. Columns are the study's keys; units come from the measures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from hwnas.files import atomic_write

if TYPE_CHECKING:
    from hwnas.results import Result
    from hwnas.space import SearchSpace
    from hwnas.study import Study

#: how a figure of a unit is shown: (shown unit, scale)
DISPLAY = {"fraction": ("%", 100.0), "MACs": ("M MACs", 1e-6), "parameters": ("k params", 1e-3),
           "bytes": ("kB", 1e-3)}


def display_of(unit: str) -> tuple[str, float]:
    """(shown unit, scale) for a measure's unit; ``"fraction (validation split)"`` shows as
    a percentage like ``"fraction"``."""
    if unit in DISPLAY:
        return DISPLAY[unit]
    base = unit.split(" (", 1)[0]
    return DISPLAY.get(base, (unit, 1.0))


def shown_unit(unit: str) -> str:
    return display_of(unit)[0]


def _format(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    shown, scale = display_of(unit)
    if shown == "%":
        return f"{scale * value:.2f}%"
    return f"{scale * value:.3g}"


def front_table(study: Study, results: Sequence[Result] | None = None,
                objectives: Sequence[str] | None = None) -> Table:
    """A rich table of the front over ``objectives`` (keys; default all), or of
    ``results``: trial, id, every figure by key (with its unit), spreads where measured."""
    results = study.pareto_front(objectives) if results is None else results
    units = study.spec.units()
    keys = study.spec.keys
    spread_keys = [k for k in keys if any(r.spreads.get(k) for r in results)]
    table = Table(title=f"Pareto front: {len(results)} sub-networks")
    table.add_column("trial", justify="right")
    table.add_column("arch id")
    policies: dict[int, str | None] = {r.number: None for r in results}
    if study.spec.evaluation.transform is not None:  # a quantized study: "7/9 int8"
        from hwnas.quantization import describe_policy

        policies = {r.number: describe_policy(study.spec.space, r.config) for r in results}
    show_policy = any(p is not None for p in policies.values())
    if show_policy:
        table.add_column("policy")
    for key in keys:
        unit = shown_unit(units.get(key, ""))
        table.add_column(f"{key} ({unit})" if unit else key, justify="right")
    for key in spread_keys:
        unit = shown_unit(units.get(key, ""))
        table.add_column(f"{key} IQR ({unit})" if unit else f"{key} IQR", justify="right")
    for result in results:
        row = [str(result.number), result.arch_id[:10]]
        row += [policies[result.number] or "-"] if show_policy else []
        row += [_format(units.get(k, ""), result.metrics.get(k)) for k in keys]
        row += [_format(units.get(k, ""), result.spreads.get(k, 0.0)) for k in spread_keys]
        table.add_row(*row)
    return table


def space_table(space: SearchSpace, title: str) -> Table:
    """Every dimension of ``space``: name, type, allowed values, condition."""
    table = Table(title=f"{title}: {len(space)} dimensions")
    for column in ("dimension", "type", "values", "active when"):
        table.add_column(column)
    for dim in space.dims:
        condition = "always"
        if dim.active_if is not None:
            parent, rule = dim.active_if
            if isinstance(rule, (set, frozenset, list, tuple)):
                condition = f"{parent} in {sorted(rule, key=str)}"
            else:
                condition = f"{parent} >= {rule}"
        kind = "ordered" if getattr(dim, "ordered", True) else "categorical"
        table.add_row(dim.name, kind, ", ".join(map(str, dim.values)), condition)
    return table


def write_front_csv(study: Study, path: str | Path,
                    objectives: Sequence[str] | None = None) -> Path:
    """The front (one row per sub-network, config columns included) as CSV, atomically."""
    frame = study.to_dataframe()
    front_numbers = {r.number for r in study.pareto_front(objectives)}
    frame = frame[frame["number"].isin(front_numbers)]
    return atomic_write(Path(path), lambda handle: frame.to_csv(handle, index=False), "w")


def plot_title(study: Study, y: str, x: str) -> str:
    """``y vs x`` with how each measured figure was measured (backend, batch, threads) and
    the machine that measured it (recorded with the study, else this one)."""
    from hwnas.report.machine import machine_facts, recorded_machines

    parts = []
    for measure in study.spec.evaluation.measures:
        if measure.key in (x, y) and measure.kind == "latency":
            settings = measure.settings
            parts.append(f"{measure.key}: {settings.get('backend', 'torch')}, batch "
                         f"{settings.get('batch_size', 1)}, {settings.get('threads', 1)} "
                         f"thread{'s' if settings.get('threads', 1) != 1 else ''}")
    machines = recorded_machines(study)
    cpu = (machines[0] if machines else machine_facts()).get("cpu", "unknown CPU")
    where = f" on {cpu}" if parts else ""
    return f"{y} vs {x}" + (f"\n{'; '.join(parts)}{where}" if parts else "")


def plot_front(study: Study, path: str | Path, x: str | None = None,
               y: str | None = None) -> Path:
    """Every evaluated sub-network (grey) and the front over ``x`` and ``y`` (objective keys;
    default the first two objectives) as a staircase, each front point labelled with its
    trial number, with error bars of the measured spread (IQR); the title names the
    hardware and batch of the latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = study.spec.objective_keys
    x = x or (keys[1] if len(keys) > 1 else keys[0])
    y = y or keys[0]
    units = study.spec.units()
    x_shown, x_scale = display_of(units.get(x, ""))
    y_shown, y_scale = display_of(units.get(y, ""))
    finished = study.finished()
    front = study.pareto_front([y, x] if x != y else [y])
    figure, axes = plt.subplots(figsize=(7.2, 4.8), dpi=120)
    axes.scatter([x_scale * r.metrics[x] for r in finished],
                 [y_scale * r.metrics[y] for r in finished],
                 s=12, color="0.7", label=f"evaluated ({len(finished)})")
    ordered = sorted(front, key=lambda r: r.metrics[x])
    xs = [x_scale * r.metrics[x] for r in ordered]
    ys = [y_scale * r.metrics[y] for r in ordered]
    minimized = dict(zip(keys, study.spec.directions)).get(x) == "minimize"
    axes.step(xs, ys, where="post" if minimized else "pre", color="tab:red", linewidth=1.2)
    axes.errorbar(xs, ys, xerr=[x_scale * r.spreads.get(x, 0.0) / 2 for r in ordered],
                  yerr=[y_scale * r.spreads.get(y, 0.0) / 2 for r in ordered], fmt="o",
                  color="tab:red", markersize=5, elinewidth=0.8, capsize=2,
                  label=f"Pareto front ({len(front)}; bars: IQR)")
    for result, px, py in zip(ordered, xs, ys):
        axes.annotate(str(result.number), (px, py), textcoords="offset points",
                      xytext=(-4, 4), ha="right", fontsize=7, color="tab:red")
    axes.set_xlabel(f"{x} ({x_shown or 'value'})")
    axes.set_ylabel(f"{y} ({y_shown or 'value'})")
    axes.set_title(plot_title(study, y, x), fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    result = atomic_write(Path(path), lambda handle: figure.savefig(handle, format="png"), "wb")
    plt.close(figure)
    return result

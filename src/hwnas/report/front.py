"""The Pareto front as a table (terminal), a CSV file and a plot (PNG)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from hwnas.results import Result
    from hwnas.study import Study

UNITS = {"accuracy": "", "latency": "ms", "macs": "M", "params": "k", "model_size": "kB"}
SCALE = {"macs": 1e-6, "params": 1e-3, "model_size": 1e-3}


def _columns(study: Study) -> list[str]:
    return study.spec.objective_names + [m.name for m in study.spec.metrics]


def _format(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name == "accuracy":
        return f"{100 * value:.2f}%"
    value *= SCALE.get(name, 1.0)
    return f"{value:.3g}"


def front_table(study: Study, results: Sequence[Result] | None = None) -> Table:
    """A rich table of the front (or of ``results``): id, objectives, metrics, spread."""
    results = study.pareto_front() if results is None else results
    columns = _columns(study)
    table = Table(title=f"Pareto front: {len(results)} sub-networks")
    table.add_column("trial", justify="right")
    table.add_column("arch id")
    for name in columns:
        unit = UNITS.get(name, "")
        table.add_column(f"{name} ({unit})" if unit else name, justify="right")
    if "latency" in columns:
        table.add_column("latency IQR (ms)", justify="right")
    for result in results:
        row = [str(result.number), result.arch_id[:10]]
        row += [_format(name, result.metrics.get(name)) for name in columns]
        if "latency" in columns:
            row.append(f"{result.spreads.get('latency', 0.0):.3g}")
        table.add_row(*row)
    return table


def write_front_csv(study: Study, path: str | Path) -> Path:
    """The front as CSV (one row per sub-network, config columns included), atomically."""
    frame = study.to_dataframe()
    front_numbers = {r.number for r in study.pareto_front()}
    frame = frame[frame["number"].isin(front_numbers)]
    return _atomic_write(Path(path), lambda handle: frame.to_csv(handle, index=False), "w")


def plot_front(study: Study, path: str | Path, x: str | None = None,
               y: str | None = None) -> Path:
    """Every evaluated sub-network (grey) and the front (line), first two objectives."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = study.spec.objective_names
    x = x or (names[1] if len(names) > 1 else names[0])
    y = y or names[0]
    finished, front = study.finished(), study.pareto_front()
    figure, axes = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    axes.scatter([r.metrics[x] for r in finished], [r.metrics[y] for r in finished],
                 s=12, color="0.7", label=f"evaluated ({len(finished)})")
    ordered = sorted(front, key=lambda r: r.metrics[x])
    axes.plot([r.metrics[x] for r in ordered], [r.metrics[y] for r in ordered], "o-",
              color="tab:red", markersize=5, label=f"Pareto front ({len(front)})")
    axes.set_xlabel(f"{x} ({UNITS.get(x) or 'value'})" if x != "accuracy" else x)
    axes.set_ylabel(y)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    result = _atomic_write(Path(path), lambda handle: figure.savefig(handle, format="png"), "wb")
    plt.close(figure)
    return result


def _atomic_write(path: Path, write, mode: str) -> Path:  # noqa: ANN001 - a small callback
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        with open(temporary, mode) as stream:
            write(stream)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path

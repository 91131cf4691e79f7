"""The interactive figures of the HTML report (plotly): Pareto fronts per objective pair
with error bars, hypervolume over evaluations, predictor quality over batches.

Every figure overlays the studies it is given; each study keeps one colour throughout.
Values are shown in display units (accuracy in %, MACs in millions, ...; see
:data:`hwnas.report.front.DISPLAY`). Error bars span the measured inter-quartile range
(the median ± half the IQR).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.pareto import hypervolume
from hwnas.report.front import display_of, shown_unit

if TYPE_CHECKING:
    from hwnas.results import Result
    from hwnas.study import Study

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
          "#17becf")
#: the hypervolume curve is computed at no more than this many points per study
HV_POINTS = 120


@dataclass(frozen=True)
class Labelled:
    """A study with the label and colour the report shows it by."""

    label: str
    study: Study
    color: str


def scale_of(unit: str) -> float:
    return display_of(unit)[1]


def axis_title(key: str, unit: str) -> str:
    shown = shown_unit(unit)
    return f"{key} ({shown})" if shown else key


def format_value(value: float | None, unit: str) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    shown, scale = display_of(unit)
    text = f"{scale * value:.2f}" if shown == "%" else f"{scale * value:.4g}"
    return f"{text}{'%' if shown == '%' else ' ' + shown if shown else ''}"


def hover_text(labelled: Labelled, result: Result) -> str:
    """Trial, id, every figure with its spread, and the config."""
    units = labelled.study.spec.units()
    lines = [f"<b>{html.escape(labelled.label)}: trial {result.number}</b>",
             f"arch id {result.arch_id[:12]} (batch {result.batch})"]
    for key in labelled.study.spec.keys:
        if key not in result.metrics:
            continue
        unit = units.get(key, "")
        spread = result.spreads.get(key) or 0.0
        extra = f" (IQR {format_value(spread, unit)})" if spread else ""
        lines.append(f"{html.escape(key)}: {format_value(result.metrics[key], unit)}{extra}")
    genes = [f"{k}={v}" for k, v in result.config.items()]
    for start in range(0, len(genes), 3):
        lines.append(html.escape(", ".join(genes[start:start + 3])))
    return "<br>".join(lines)


def objective_pairs(studies: Sequence[Labelled]) -> list[tuple[str, str]]:
    """(y, x) pairs: the first study's first objective against each other objective, then the
    remaining pairs; only keys every study has as objectives."""
    keys = [k for k in studies[0].study.spec.objective_keys
            if all(k in s.study.spec.objective_keys for s in studies)]
    pairs = [(keys[0], other) for other in keys[1:]] if keys else []
    pairs += [(a, b) for i, a in enumerate(keys[1:], 1) for b in keys[i + 1:]]
    return pairs


def _direction(study: Study, key: str) -> str:
    return dict(zip(study.spec.objective_keys, study.spec.directions))[key]


def front_figure(studies: Sequence[Labelled], y: str, x: str) -> Any:
    """Every evaluated sub-network (faint) and the front over (y, x) as a staircase with
    error bars, per study; hovering a point shows its trial, figures and config."""
    import plotly.graph_objects as go

    figure = go.Figure()
    units = studies[0].study.spec.units()
    x_scale, y_scale = scale_of(units.get(x, "")), scale_of(units.get(y, ""))
    for labelled in studies:
        study = labelled.study
        feasible = study.feasible()
        numbers = {r.number for r in feasible}
        infeasible = [r for r in study.finished() if r.number not in numbers]
        front = sorted(study.pareto_front([y, x]), key=lambda r: r.metrics[x])
        for shown, symbol, name in ((feasible, "circle", "evaluated"),
                                    (infeasible, "x", "infeasible")):
            if not shown and symbol == "x":
                continue
            figure.add_trace(go.Scatter(
                x=[x_scale * r.metrics[x] for r in shown],
                y=[y_scale * r.metrics[y] for r in shown],
                mode="markers", name=f"{labelled.label}: {name} ({len(shown)})",
                marker={"color": labelled.color, "size": 6, "opacity": 0.3,
                        "symbol": symbol},
                text=[hover_text(labelled, r) for r in shown],
                customdata=[r.number for r in shown],
                hovertemplate="%{text}<extra></extra>"))
        shape = "hv" if _direction(study, x) == "minimize" else "vh"
        figure.add_trace(go.Scatter(
            x=[x_scale * r.metrics[x] for r in front],
            y=[y_scale * r.metrics[y] for r in front],
            mode="lines+markers+text", line={"shape": shape, "color": labelled.color},
            name=f"{labelled.label}: Pareto front ({len(front)})",
            marker={"color": labelled.color, "size": 9, "line": {"width": 1, "color": "#fff"}},
            error_x={"type": "data", "array": [x_scale * r.spreads.get(x, 0.0) / 2
                                               for r in front], "visible": True,
                     "thickness": 1},
            error_y={"type": "data", "array": [y_scale * r.spreads.get(y, 0.0) / 2
                                               for r in front], "visible": True,
                     "thickness": 1},
            text=[str(r.number) for r in front], textposition="top left",
            textfont={"size": 10, "color": labelled.color},
            hovertext=[hover_text(labelled, r) for r in front],
            customdata=[r.number for r in front],
            hovertemplate="%{hovertext}<extra></extra>"))
    for constraint in studies[0].study.spec.constraints:  # the bounds the search kept to
        if constraint.key in (x, y):
            line = {"line_dash": "dash", "line_color": "#888", "line_width": 1,
                    "annotation_text": constraint.to_text()}
            if constraint.key == x:
                figure.add_vline(x=x_scale * constraint.bound, **line)
            else:
                figure.add_hline(y=y_scale * constraint.bound, **line)
    figure.update_layout(
        title=f"{y} vs {x}: Pareto front (numbers: trials; bars: IQR of repeats)",
        xaxis_title=axis_title(x, units.get(x, "")),
        yaxis_title=axis_title(y, units.get(y, "")), hovermode="closest",
        template="plotly_white", height=520, legend={"orientation": "h", "y": -0.2})
    return figure


def hypervolume_curve(study: Study, keys: Sequence[str], reference: Sequence[float]
                      ) -> tuple[list[int], list[float]]:
    """Hypervolume over ``keys`` against ``reference`` after each finished evaluation (in
    proposal order; under constraints of the feasible ones), at no more than
    :data:`HV_POINTS` points."""
    from hwnas.constraints import is_feasible

    finished = study.finished()
    if not finished:
        return [], []
    directions = [_direction(study, k) for k in keys]
    values = np.array([[r.metrics[k] for k in keys] for r in finished], dtype=float)
    # under constraints only the feasible ones count, as in Study.hypervolume
    feasible = np.array([is_feasible(study.spec.constraints, r.metrics) for r in finished])
    counts = sorted(set(np.linspace(1, len(finished), min(HV_POINTS, len(finished)))
                        .round().astype(int).tolist()))
    return counts, [hypervolume(values[:n][feasible[:n]], directions, reference)
                    if feasible[:n].any() else 0.0 for n in counts]


def hypervolume_figure(studies: Sequence[Labelled], keys: Sequence[str],
                       reference: Sequence[float]) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure()
    for labelled in studies:
        counts, volumes = hypervolume_curve(labelled.study, keys, reference)
        figure.add_trace(go.Scatter(x=counts, y=volumes, mode="lines", name=labelled.label,
                                    line={"color": labelled.color},
                                    hovertemplate=f"{html.escape(labelled.label)}: "
                                                  "%{y:.6g} after %{x} evaluations"
                                                  "<extra></extra>"))
    units = studies[0].study.spec.units()
    shown = ", ".join(f"{k}={format_value(v, units.get(k, ''))}"
                      for k, v in zip(keys, reference))
    figure.update_layout(title=f"hypervolume over {', '.join(keys)} (reference point {shown})",
                         xaxis_title="finished evaluations",
                         yaxis_title="hypervolume (objectives' own units)",
                         template="plotly_white", height=420)
    return figure


def predictor_series(study: Study) -> dict[str, list[tuple[int, float]]]:
    """Kendall's tau of the strategy's predictors per objective and batch, from its log:
    ``"<key> cross-validated"`` and ``"<key> on the next batch"`` series."""
    keys = study.spec.objective_keys
    series: dict[str, list[tuple[int, float]]] = {}
    for entry in study.strategy_log():
        for field, label, shift in (("cross_validated", "cross-validated", 0),
                                    ("previous_batch", "on the next batch", -1)):
            for key, quality in zip(keys, entry.get(field) or []):
                tau = (quality or {}).get("kendall_tau")
                if tau is not None and np.isfinite(tau):
                    series.setdefault(f"{key} {label}", []).append(
                        (int(entry["batch"]) + shift, float(tau)))
    return series


def predictor_figure(studies: Sequence[Labelled]) -> Any | None:
    """Predictor quality (Kendall's tau) over batches; None if no study recorded any."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for labelled in studies:
        for name, points in predictor_series(labelled.study).items():
            dash = "solid" if "cross-validated" in name else "dot"
            figure.add_trace(go.Scatter(
                x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                name=f"{labelled.label}: {name}", line={"color": labelled.color, "dash": dash},
                hovertemplate=f"{html.escape(labelled.label)} {html.escape(name)}: "
                              "tau %{y:.3f} (batch %{x})<extra></extra>"))
    if not figure.data:
        return None
    figure.update_layout(title="predictor quality: Kendall's tau of predicted vs measured",
                         xaxis_title="batch the predictor was fitted for",
                         yaxis_title="Kendall's tau", yaxis_range=[-1, 1],
                         template="plotly_white", height=420)
    return figure


def config_json(result: Result) -> str:
    return json.dumps(result.config, sort_keys=False)

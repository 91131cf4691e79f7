"""One self-contained HTML report of one or more studies, readable offline.

plotly's JavaScript is embedded once in the page's head; every figure is a ``<div>`` drawn
by it, so the file needs no network (no script or style comes from the internet). The page
answers "which network for which target": for each objective pair, the best sub-network
under each budget with the commands that pick and export it; the interactive fronts
(hover: trial, config, every figure with its spread; error bars: IQR of repeats); the
hypervolume over evaluations against a stated reference point; the strategy's predictor
quality; the whole front as a sortable table; and the machines, settings and versions the
figures come from.

>>> escape_cell("<b>")
'&lt;b&gt;'
"""

from __future__ import annotations

import datetime as _datetime
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas.errors import InvalidConfigError, require
from hwnas.files import atomic_write
from hwnas.report.figures import (
    COLORS,
    Labelled,
    axis_title,
    format_value,
    front_figure,
    hypervolume_figure,
    objective_pairs,
    predictor_figure,
    scale_of,
)
from hwnas.report.machine import describe_machine, machine_facts, recorded_machines

if TYPE_CHECKING:
    from hwnas.study import Study

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
table.sortable th { cursor: pointer; } table.sortable th:hover { background: #e8e8ff; }
code { background: #f6f6f6; padding: 0 0.2em; font-size: 0.9em; }
.note { color: #555; font-size: 0.9em; } .swatch { display: inline-block; width: 0.8em;
  height: 0.8em; margin-right: 0.3em; }
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.dataset.order !== "asc";
    table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = ascending ? "asc" : "desc";
    var key = function (row) {
      var cell = row.cells[index];
      return cell.dataset.value !== undefined ? parseFloat(cell.dataset.value)
                                              : cell.textContent;
    };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var order = (typeof x === "number" && typeof y === "number") ? x - y
                  : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def escape_cell(text: Any) -> str:
    return html.escape(str(text))


def _labels(locations: Sequence[str]) -> list[str]:
    """Short, distinct labels: the study file's folder and name."""
    labels = []
    for location in locations:
        path = Path(location)
        label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        labels.append(label)
    for index, label in enumerate(labels):
        if labels.count(label) > 1:
            labels[index] = f"{label} #{index + 1}"
    return labels


def _load(studies: Sequence[Study | str | Path]) -> list[Study]:
    from hwnas.report.reader import read_study

    return [read_study(s) for s in studies]


def _table(header: Sequence[str], rows: Sequence[Sequence[tuple[str, float | None]]],
           sortable: bool = False, text_columns: Sequence[int] = ()) -> str:
    """An HTML table; each cell is (shown text, sort value or None for text)."""
    klass = ' class="sortable"' if sortable else ""
    head = "".join(f'<th{" class=text" if i in text_columns else ""}>{escape_cell(h)}</th>'
                   for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = []
        for i, (shown, value) in enumerate(row):
            attrs = f' data-value="{value!r}"' if value is not None else ""
            attrs += ' class="text"' if i in text_columns else ""
            cells.append(f"<td{attrs}>{shown}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure_div(figure: Any, div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _decision_section(labelled: Labelled, y: str, x: str) -> str:
    """Budget on ``x`` -> the best ``y`` under it, with the commands to pick and export it."""
    study = labelled.study
    directions = dict(zip(study.spec.objective_keys, study.spec.directions))
    units = study.spec.units()
    front = study.pareto_front([y, x])
    cheap_first = directions[x] == "minimize"
    front = sorted(front, key=lambda r: r.metrics[x], reverse=not cheap_first)
    bound = "--max" if cheap_first else "--min"
    sign = "&le;" if cheap_first else "&ge;"
    rows = []
    location = study.location
    for result in front:
        budget = result.metrics[x]
        rows.append([
            (f"{x} {sign} {escape_cell(format_value(budget, units.get(x, '')))}", budget),
            (str(result.number), result.number),
            (escape_cell(format_value(result.metrics[y], units.get(y, ""))), result.metrics[y]),
            (f"<code>hwnas pick {escape_cell(location)} {bound} {escape_cell(x)}={budget:.6g}"
             f" --by {escape_cell(y)}</code>", None),
            (f"<code>hwnas export --study {escape_cell(location)} --trial {result.number} "
             f"--out trial{result.number}.onnx</code>", None),
        ])
    header = [f"budget on {x}", "trial", f"best {axis_title(y, units.get(y, ''))}",
              "pick it", "export it"]
    return (f"<h3>{escape_cell(labelled.label)}: best {escape_cell(y)} for a budget on "
            f"{escape_cell(x)}</h3>" + _table(header, rows, sortable=True,
                                                text_columns=(0, 3, 4)))


def _front_table(labelled_studies: Sequence[Labelled]) -> str:
    keys = labelled_studies[0].study.spec.keys
    units = labelled_studies[0].study.spec.units()
    spread_keys = [k for k in keys if any(r.spreads.get(k) for s in labelled_studies
                                          for r in s.study.pareto_front())]
    header = ["study", "trial", "arch id"]
    header += [axis_title(k, units.get(k, "")) for k in keys]
    header += [f"{k} IQR" for k in spread_keys] + ["config"]
    rows = []
    for labelled in labelled_studies:
        for result in labelled.study.pareto_front():
            row: list[tuple[str, float | None]] = [
                (f'<span class="swatch" style="background:{labelled.color}"></span>'
                 f"{escape_cell(labelled.label)}", None),
                (str(result.number), result.number), (result.arch_id[:12], None)]
            for key in keys:
                value = result.metrics.get(key)
                shown = format_value(value, units.get(key, "")) if value is not None else "-"
                row.append((escape_cell(shown),
                            scale_of(units.get(key, "")) * value if value is not None
                            else None))
            for key in spread_keys:
                spread = result.spreads.get(key, 0.0)
                row.append((escape_cell(format_value(spread, units.get(key, ""))),
                            scale_of(units.get(key, "")) * spread))
            row.append((f"<code>{escape_cell(json.dumps(result.config))}</code>", None))
            rows.append(row)
    text_columns = (0, 2, len(header) - 1)
    return _table(header, rows, sortable=True, text_columns=text_columns)


def _settings_section(labelled: Labelled) -> str:
    study = labelled.study
    spec = study.spec
    evaluation = spec.evaluation
    source = evaluation.source
    data = evaluation.data
    finished, results = study.finished(), study.results()
    reference = study.reference_point_by_key() if finished else {}
    units = spec.units()
    rows = [
        ("study", f"<code>{escape_cell(study.location)}</code>"),
        ("sub-networks from", escape_cell(f"{source.kind} {source.name}".strip()
                                          + (f" (sha256 {source.sha256[:12]})"
                                             if source.sha256 else ""))),
        ("data", escape_cell(f"{data.kind} {data.name} (split seed {data.split_seed})"
                             if data else "the benchmark's table")),
        ("search space", escape_cell(f"{len(spec.space)} dimensions, "
                                     f"{spec.space.size():,} sub-networks")),
        ("strategy", escape_cell(f"{spec.strategy} {json.dumps(spec.strategy_options)}, "
                                 f"seed {spec.seed}")),
        ("evaluations", escape_cell(f"{len(finished)} finished, "
                                    f"{len(results) - len(finished)} failed")),
        ("constraints", escape_cell(
            " and ".join(c.to_text() for c in spec.constraints) + " ({feasible} feasible, "
            "{measured} measured infeasible, {screened} screened out)".format(
                **study.infeasible_counts()) if spec.constraints else "none")),
        ("reference point", escape_cell(
            ", ".join(f"{k}={format_value(v, units.get(k, ''))}" for k, v in reference.items())
            + f" ({study.reference_point_rule()})" if reference else "none yet")),
    ]
    for measure in evaluation.measures:
        role = f"objective, {measure.direction}" if measure.direction else "metric"
        rows.append((f"{measure.key}", escape_cell(
            f"{measure.describe()} [{measure.unit}] ({role})")))
    machines = recorded_machines(study)
    for facts in machines:
        versions = ", ".join(f"{k} {v}" for k, v in facts.get("packages", {}).items())
        rows.append(("measured on", escape_cell(
            f"{describe_machine(facts)}; {facts.get('os', '')}; {versions}")))
    if not machines:
        rows.append(("measured on", "not recorded in the study (made before hwnas recorded "
                                    "machines, or through the Python API)"))
    body = "".join(f'<tr><th class="text">{escape_cell(k)}</th><td class="text">{v}</td></tr>'
                   for k, v in rows)
    return (f'<h3><span class="swatch" style="background:{labelled.color}"></span>'
            f"{escape_cell(labelled.label)}</h3><table><tbody>{body}</tbody></table>")


def render_report(studies: Sequence[Study | str | Path], *,
                  labels: Sequence[str] | None = None, title: str | None = None) -> str:
    """The report page as HTML text (see the module's docstring)."""
    from importlib import metadata

    plotly_offline = require("plotly.offline", "report")
    loaded = _load(studies)
    if not loaded:
        raise InvalidConfigError("give at least one study to report on")
    labels = list(labels) if labels is not None else _labels([s.location for s in loaded])
    if len(labels) != len(loaded):
        raise InvalidConfigError(f"{len(labels)} labels for {len(loaded)} studies")
    labelled = [Labelled(label, study, COLORS[i % len(COLORS)])
                for i, (label, study) in enumerate(zip(labels, loaded))]
    empty = [item.label for item in labelled if not item.study.finished()]
    if empty:
        raise InvalidConfigError(f"study {empty[0]} has no finished evaluation to report on; "
                                 "run `hwnas search` on it first")
    first = labelled[0].study
    pairs = objective_pairs(labelled)
    sections: list[str] = []

    decisions = [_decision_section(item, y, x) for item in labelled for y, x in pairs]
    sections.append("<h2>Which network for which target</h2>"
                    "<p class=note>Each row is a Pareto-optimal sub-network: the best value of "
                    "the first objective for any budget on the other up to that row's. "
                    "<code>hwnas pick</code> prints it; <code>hwnas export</code> writes it "
                    "(verified against the recorded figures).</p>" + "".join(decisions))

    fronts = [_figure_div(front_figure(labelled, y, x), f"front-{i}")
              for i, (y, x) in enumerate(pairs)]
    if not pairs:  # one objective: its values over evaluations stand in for a front
        key = first.spec.objective_keys[0]
        fronts.append(_figure_div(front_figure(labelled, key, key), "front-0"))
    sections.append("<h2>Pareto fronts</h2><p class=note>Faint points: every evaluated "
                    "sub-network; line: the front (a staircase); numbers: trial numbers; "
                    "error bars: the inter-quartile range of repeated measurements (median "
                    "&plusmn; IQR/2). Hover a point for its trial, every figure with its "
                    "spread, and its config.</p>" + "".join(fronts))

    keys = [k for k in first.spec.objective_keys
            if all(k in item.study.spec.objective_keys for item in labelled)]
    reference_by_key = first.reference_point_by_key()
    reference = [reference_by_key[k] for k in keys]
    units = first.spec.units()
    shown_reference = ", ".join(f"{k} = {format_value(v, units.get(k, ''))}"
                                for k, v in zip(keys, reference))
    sections.append(
        f"<h2>Hypervolume over evaluations</h2><p class=note>Reference point "
        f"<b id=reference-point>{escape_cell(shown_reference)}</b> (of "
        f"{escape_cell(labelled[0].label)}: {escape_cell(first.reference_point_rule())}), "
        "the same for every study on this page, so the curves compare.</p>"
        + _figure_div(hypervolume_figure(labelled, keys, reference), "hypervolume"))

    predictors = predictor_figure(labelled)
    if predictors is not None:
        sections.append("<h2>Predictor quality</h2><p class=note>Kendall's tau between the "
                        "strategy's predictions and the measurements: cross-validated when "
                        "fitted (solid) and on the batch it then proposed (dotted).</p>"
                        + _figure_div(predictors, "predictors"))
    else:
        sections.append("<h2>Predictor quality</h2><p class=note>No strategy on this page "
                        "records predictor quality (LINAS does).</p>")

    sections.append("<h2>The front as a table</h2><p class=note>Click a column to sort."
                    "</p>" + _front_table(labelled))
    sections.append("<h2>Settings, machines and versions</h2>"
                    + "".join(_settings_section(item) for item in labelled))

    facts = machine_facts()
    written = _datetime.datetime.now(_datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    version = metadata.version("hwnas")
    title = title or f"hwnas report: {', '.join(labels)}"
    header = (f"<h1>{escape_cell(title)}</h1><p class=note>Written {written} by hwnas "
              f"{escape_cell(version)} on {escape_cell(describe_machine(facts))}. "
              f"{len(labelled)} {'study' if len(labelled) == 1 else 'studies'}: "
              + ", ".join(f'<span class="swatch" style="background:{item.color}"></span>'
                          f"{escape_cell(item.label)}" for item in labelled) + ".</p>")
    plotly_js = plotly_offline.get_plotlyjs()
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{escape_cell(title)}</title><link rel=icon href=\"data:,\">"
            f"<style>{STYLE}</style><script type=\"text/javascript\">{plotly_js}</script>"
            f"</head><body>{header}{''.join(sections)}<script>{SORT_SCRIPT}</script>"
            "</body></html>\n")


def write_report(studies: Sequence[Study | str | Path], out: str | Path, *,
                 labels: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write the report of ``studies`` (paths or :class:`Study` objects) to ``out`` (written
    to a temporary name and renamed); returns its path."""
    page = render_report(studies, labels=labels, title=title)
    return atomic_write(Path(out), lambda handle: handle.write(page), "w")

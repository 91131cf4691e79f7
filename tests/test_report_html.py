"""The HTML report (one self-contained file), its figures, the stored reference point and
the quickstart plot."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from decision_studies import benchmark_studies, run_cli

from hwnas.report.figures import (
    Labelled,
    front_figure,
    hypervolume_curve,
    predictor_series,
)
from hwnas.report.html import render_report, write_report
from hwnas.study import Study


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    return benchmark_studies(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def page(studies, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "report.html"
    write_report(list(studies), out)
    return out.read_text()


def test_the_page_is_self_contained(page):
    scripts = re.findall(r"<script[^>]*>", page)
    assert not [s for s in scripts if "src=" in s], scripts
    assert not re.search(r"<link[^>]+href=\"?https?:", page)
    assert page.count("Plotly.newPlot") >= 3  # fronts, hypervolume, predictors
    # plotly.js itself is embedded exactly once
    from plotly.offline import get_plotlyjs

    bundle = get_plotlyjs()
    assert page.count(bundle[:200]) == 1 and len(page) > len(bundle)


def test_the_page_states_reference_point_machines_and_versions(studies, page):
    from importlib import metadata

    first = Study.load(studies[0])
    reference = first.reference_point_by_key()
    shown = re.search(r"<b id=reference-point>([^<]*)</b>", page).group(1)
    assert f"accuracy = {100 * reference['accuracy']:.2f}%" in shown
    assert f"latency = {reference['latency']:.4g} ms" in shown
    assert f"hwnas {metadata.version('hwnas')}" in page
    assert "worst value of the first measured batch" in page
    for study in (first, Study.load(studies[1])):
        for result in study.pareto_front():
            # hover text of every front point (plotly's JSON escapes "</b>")
            assert f"trial {result.number}\\u003c\\u002fb\\u003e" in page
    assert "Which network for which target" in page and "hwnas pick" in page


def test_front_figure_has_a_staircase_with_error_bars_and_trial_labels(studies):
    study = Study.load(studies[0])
    figure = front_figure([Labelled("a", study, "#000")], "accuracy", "latency")
    front_trace = figure.data[1]
    front = sorted(study.pareto_front(["accuracy", "latency"]),
                   key=lambda r: r.metrics["latency"])
    assert front_trace.line.shape == "hv"  # latency minimized: across, then up
    assert list(front_trace.text) == [str(r.number) for r in front]
    assert list(front_trace.customdata) == [r.number for r in front]
    assert np.allclose(front_trace.error_x.array, [r.spreads["latency"] / 2 for r in front])
    assert any(v > 0 for v in front_trace.error_x.array)
    assert np.allclose(front_trace.y, [100 * r.metrics["accuracy"] for r in front])


def test_hypervolume_curve_grows_to_the_studys_hypervolume(studies):
    study = Study.load(studies[1])
    reference = study.default_reference_point()
    counts, volumes = hypervolume_curve(study, study.spec.objective_keys, reference)
    assert counts[-1] == len(study.finished())
    assert all(b >= a - 1e-15 for a, b in zip(volumes, volumes[1:]))
    assert volumes[-1] == pytest.approx(study.hypervolume())


def test_predictor_quality_comes_from_the_strategy_log(studies, page):
    linas, random = Study.load(studies[0]), Study.load(studies[1])
    series = predictor_series(linas)
    assert series and all(-1 <= tau <= 1 for points in series.values() for _, tau in points)
    assert "accuracy cross-validated" in series
    assert predictor_series(random) == {}
    assert 'id="predictors"' in page


def test_reference_point_is_fixed_once_and_stored(tmp_path):
    study = Study.create(tmp_path / "s.db", benchmark="mnist1d_cnn1d", strategy="random",
                         seed=3)
    study.optimize(10, progress=False)
    first = study.reference_point_by_key()
    batch = [r for r in study.finished() if r.batch == min(x.batch for x in study.finished())]
    worst_latency = max(r.metrics["latency"] for r in batch)
    span = worst_latency - min(r.metrics["latency"] for r in batch)
    assert first["latency"] == pytest.approx(worst_latency + 0.1 * span)
    study.optimize(25, progress=False)  # resume: the reference point does not move
    reopened = Study.load(tmp_path / "s.db")
    assert reopened.reference_point_by_key() == first
    assert reopened.hypervolume() == pytest.approx(
        study.hypervolume(reference_point=[first["accuracy"], first["latency"]]))
    declared = Study.create(tmp_path / "d.db", benchmark="mnist1d_cnn1d", strategy="random",
                            reference_point=[0.5, 1.0])
    declared.optimize(5, progress=False)
    assert declared.reference_point_by_key() == {"accuracy": 0.5, "latency": 1.0}
    assert declared.reference_point_rule() == "declared when the study was created"


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_report_files_get_the_umask(studies, tmp_path, mask):
    from hwnas.report import write_front_csv

    previous = os.umask(mask)
    try:
        out = write_report([studies[1]], tmp_path / "r.html")
        csv = write_front_csv(Study.load(studies[1]), tmp_path / "f.csv")
    finally:
        os.umask(previous)
    for path in (out, csv):
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_report_refuses_an_empty_study(tmp_path):
    from hwnas.errors import InvalidConfigError

    Study.create(tmp_path / "e.db", benchmark="mnist1d_cnn1d", strategy="random")
    with pytest.raises(InvalidConfigError, match="no finished evaluation"):
        render_report([tmp_path / "e.db"])


def test_cli_report_overlays_studies(studies, tmp_path, capsys):
    out = tmp_path / "both.html"
    assert run_cli("report", str(studies[0]), str(studies[1]), "--output", str(out),
                   "--label", "LINAS", "--label", "random") == 0
    text = out.read_text()
    assert "LINAS: Pareto front" in text and "random: Pareto front" in text
    assert "report written to" in capsys.readouterr().out


def test_quickstart_plot_names_hardware_and_batch(studies, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from hwnas.report.front import plot_title

    study = Study.load(studies[0])
    title = plot_title(study, "accuracy", "latency")
    assert "batch 1" in title and "torch" in title


def test_a_constrained_study_shows_its_bounds_and_feasible_front(tmp_path):
    study = Study.create(tmp_path / "c.db", benchmark="mnist1d_cnn1d", strategy="random",
                         constraints=["latency<=0.15"], seed=2)
    study.optimize(20, progress=False)
    figure = front_figure([Labelled("c", study, "#000")], "accuracy", "latency")
    names = [trace.name for trace in figure.data]
    counts = study.infeasible_counts()
    assert names == [f"c: evaluated ({counts['feasible']})",
                     f"c: infeasible ({counts['measured']})",
                     f"c: Pareto front ({len(study.pareto_front())})"]
    assert [shape.x0 for shape in figure.layout.shapes] == [0.15]
    assert all(r.metrics["latency"] <= 0.15 for r in study.pareto_front())
    counts_curve, volumes = hypervolume_curve(study, ["accuracy", "latency"],
                                              study.default_reference_point())
    assert volumes[-1] == pytest.approx(study.hypervolume())
    page = render_report([study])
    assert "latency&lt;=0.15 (" in page  # the settings table names the constraint

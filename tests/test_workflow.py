from __future__ import annotations

import csv

import pytest

from hwnas.errors import InvalidConfigError
from hwnas.workflow import parse_config, quickstart


def test_quickstart_writes_study_front_and_plot(tmp_path):
    result = quickstart(tmp_path, n_evaluations=12, epochs=1, progress=False)
    files = result.files
    assert all(path.is_file() for path in files.values())
    assert files["front_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(files["front_csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(result.study.pareto_front()) >= 1
    assert {"accuracy", "latency", "macs", "params", "model_size"} <= set(rows[0])
    assert len(result.study.finished()) == 12
    assert result.seconds > 0


def test_parse_config_reads_text_and_files(tmp_path):
    assert parse_config('{"a": 1}') == {"a": 1}
    path = tmp_path / "c.json"
    path.write_text('{"b": 2}')
    assert parse_config(str(path)) == {"b": 2}
    with pytest.raises(InvalidConfigError, match="not valid JSON"):
        parse_config("{oops")
    with pytest.raises(InvalidConfigError, match="JSON object"):
        parse_config("[1, 2]")


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    from hwnas.workflow import run_search, train_supernet

    folder = tmp_path_factory.mktemp("searched")
    train_supernet(folder / "supernet.pt", supernet="tiny_elastic_cnn", dataset="digits",
                   epochs=2, seed=2, progress=False)
    study = run_search(folder / "study.db", checkpoint=folder / "supernet.pt",
                       objectives=["accuracy", "params"], metrics=["macs"], strategy="random",
                       n_evaluations=6, seed=7, progress=False)
    return folder, study


def test_the_exported_network_is_the_measured_one(searched):
    import torch

    from hwnas.workflow import export_subnetwork

    folder, study = searched
    data = study.evaluator().data
    assert study.spec.evaluation.data.split_seed == 2  # the training split, not the search seed
    for result in study.finished():
        out = export_subnetwork(folder / f"trial{result.number}.pt2", study=folder / "study.db",
                                trial=result.number)
        module = torch.export.load(out).module()
        with torch.no_grad():
            predicted = module(data.val_x).argmax(dim=1)
        accuracy = int((predicted == data.val_y).sum()) / len(data.val_y)
        assert accuracy == pytest.approx(result.metrics["accuracy"], abs=1e-9), result.number


def test_evaluate_trial_re_measures_as_the_study_measures(searched):
    from hwnas.workflow import evaluate_trial

    folder, study = searched
    result = study.finished()[0]
    figures = {f.key: f for f in evaluate_trial(folder / "study.db", result.number)}
    assert list(figures) == ["accuracy", "params", "macs"]
    assert figures["accuracy"].measurement.value == result.metrics["accuracy"]
    assert figures["macs"].unit == "MACs" and figures["accuracy"].settings.startswith("accuracy(")

"""The stored evaluation pipeline: keys, several measures of one kind, the user's data and
super-network, refusals at create time, the transform seam, honest splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.errors import CheckpointError, InvalidConfigError, StudyError
from hwnas.evaluation import TRANSFORMS, Artifacts, Pipeline, Transform
from hwnas.measure import LatencyMeasure, Measurement, Metric, Objective
from hwnas.study import Study
from hwnas.supernets import create_supernet

FAST = "repeats=3,warmup=0,min_sample_ms=0.2"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny elastic CNN trained one epoch on digits with split seed 3."""
    from hwnas.workflow import train_supernet

    folder = tmp_path_factory.mktemp("trained")
    path = folder / "supernet.pt"
    train_supernet(path, supernet="tiny_elastic_cnn", dataset="digits", epochs=1, seed=3,
                   progress=False)
    return path


def test_a_renamed_objective_is_measured_under_its_key():
    supernet = create_supernet("tiny_elastic_cnn").eval()
    objective = Objective("latency_bs8", "minimize",
                          LatencyMeasure(batch_size=8, repeats=3, warmup=0, min_sample_ms=0.2))
    study = Study.create(":memory:", supernet=supernet, objectives=[objective, "params"],
                         metrics=[], strategy="random", seed=0)
    study.optimize(4, progress=False)
    assert len(study.finished()) == 4
    assert all(r.metrics["latency_bs8"] > 0 for r in study.finished())
    assert study.spec.objective_keys == ["latency_bs8", "params"]
    assert study.spec.objectives[0].settings["batch_size"] == 8


def test_two_latency_objectives_in_one_study_each_with_its_front(tmp_path):
    supernet = create_supernet("tiny_elastic_cnn").eval()
    study = Study.create(
        tmp_path / "s.db", supernet=supernet,
        objectives=["params", f"latency@b1:latency:batch_size=1,{FAST}",
                    f"latency@b32:latency:batch_size=32,threads=2,{FAST}"],
        metrics=["macs"], strategy="random", seed=0)
    study.optimize(6, progress=False)
    reopened = Study.load(tmp_path / "s.db")
    settings = {o.key: o.settings for o in reopened.spec.objectives}
    assert settings["latency@b1"]["batch_size"] == 1
    assert (settings["latency@b32"]["batch_size"], settings["latency@b32"]["threads"]) == (32, 2)
    frame = reopened.to_dataframe()
    assert {"latency@b1", "latency@b32", "latency@b32_spread", "macs"} <= set(frame.columns)
    assert frame.attrs["units"]["latency@b32"] == "ms"
    for key in ("latency@b1", "latency@b32"):
        front = reopened.pareto_front(objectives=["params", key])
        assert front, key
        # the front is over the figures a search ends with (noisy latencies measured again
        # replace the first ones): compare with those, not with the first measurements
        values = np.array([[r.metrics["params"], r.metrics[key]] for r in reopened.feasible()])
        # brute force: a front member is dominated by no finished sub-network
        for r in front:
            mine = np.array([r.metrics["params"], r.metrics[key]])
            assert not any((v <= mine).all() and (v < mine).any() for v in values)
        assert reopened.hypervolume(objectives=["params", key]) >= 0.0
    with pytest.raises(StudyError, match="not among"):
        reopened.pareto_front(objectives=["latency"])


def test_a_key_used_twice_is_refused():
    supernet = create_supernet("tiny_elastic_cnn")
    with pytest.raises(InvalidConfigError, match="used twice"):
        Study.create(":memory:", supernet=supernet, objectives=["params"],
                     metrics=["latency", "latency:latency:batch_size=4"])


def test_an_objective_the_source_cannot_produce_is_refused_at_create(tmp_path):
    with pytest.raises(InvalidConfigError, match="needs data"):
        Study.create(tmp_path / "a.db", supernet=create_supernet("tiny_elastic_cnn"),
                     objectives=["accuracy", "params"])
    with pytest.raises(InvalidConfigError, match="measured once, with its own settings"):
        Study.create(tmp_path / "b.db", benchmark="mnist1d_cnn1d",
                     objectives=["accuracy", "latency@b32:latency:batch_size=32"])
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


def test_a_benchmark_source_is_stored_and_rebuilt(tmp_path):
    study = Study.create(tmp_path / "t.db", benchmark="mnist1d_cnn1d",
                         objectives=["accuracy", "lat:latency"], metrics=["macs"],
                         strategy="random", seed=0)
    study.optimize(5, progress=False)
    reopened = Study.load(tmp_path / "t.db")
    reopened.optimize(8, progress=False)
    assert len(reopened.finished()) == 8 and reopened.spec.units()["lat"] == "ms"


class _OnnxOnly(Transform):
    """A trivial transform: the module is replaced by its ONNX bytes."""

    name = "onnx_only_for_tests"
    produces = ("onnx", "session")

    def __call__(self, artifacts: Artifacts) -> Artifacts:
        return Artifacts(None, artifacts.example_inputs, onnx=artifacts.onnx)


if _OnnxOnly.name not in TRANSFORMS:
    TRANSFORMS.register(_OnnxOnly.name)(_OnnxOnly)


def test_the_transform_seam_changes_what_measures_see():
    supernet = create_supernet("tiny_elastic_cnn").eval()
    onnx_latency = Metric("latency_ort", LatencyMeasure(backend="onnxruntime", repeats=3,
                                                        warmup=0, min_sample_ms=0.2))
    pipeline = Pipeline(supernet, [onnx_latency], transform=_OnnxOnly())
    measured = pipeline(supernet.space.smallest())
    assert measured["latency_ort"].value > 0
    with pytest.raises(InvalidConfigError, match="leaves only"):
        Pipeline(supernet, [Metric.named("params")], transform=_OnnxOnly())
    study = Study.create(":memory:", supernet=supernet, objectives=[
        Objective("latency_ort", "minimize", onnx_latency.measure)], metrics=[],
        transform=_OnnxOnly(), strategy="random")
    study.optimize(2, progress=False)
    assert study.spec.evaluation.transform == {"name": "onnx_only_for_tests", "settings": {}}


def test_the_users_own_arrays_and_super_network_via_the_api(byo_path, tmp_path):
    from byo_elastic.data import make_arrays
    from byo_elastic.mlp import make_supernet

    arrays = make_arrays(seed=0)
    data = ((arrays["train_x"], arrays["train_y"]), (arrays["val_x"], arrays["val_y"]))
    study = Study.create(tmp_path / "u.db", supernet=make_supernet(), data=data,
                         objectives=["accuracy", "params"], strategy="random", seed=0)
    study.optimize(4, progress=False)
    assert all(0.0 <= r.metrics["accuracy"] <= 1.0 for r in study.finished())
    assert study.spec.evaluation.data.kind == "arrays"
    with pytest.raises(StudyError, match="pass supernet= or evaluator="):
        Study.load(tmp_path / "u.db").optimize(6, progress=False)
    with pytest.raises(StudyError, match="pass the same data="):
        Study.load(tmp_path / "u.db", supernet=make_supernet()).optimize(6, progress=False)
    other = ((arrays["train_x"], arrays["train_y"]), (arrays["val_x"][1:], arrays["val_y"][1:]))
    with pytest.raises(StudyError, match="differs from the study's"):
        Study.load(tmp_path / "u.db", supernet=make_supernet(), data=other).optimize(
            6, progress=False)
    Study.load(tmp_path / "u.db", supernet=make_supernet(), data=data).optimize(
        6, progress=False)
    assert len(Study.load(tmp_path / "u.db").finished()) == 6


def test_a_registered_dataset_that_does_not_fit_names_both_shapes(byo_path):
    from byo_elastic.mlp import make_supernet

    with pytest.raises(InvalidConfigError, match=r"\(12,\).*\(1, 8, 8\)"):
        Study.create(":memory:", supernet=make_supernet(), dataset="digits",
                     objectives=["accuracy", "params"])


def test_a_user_callable_by_import_path_is_stored_and_rebuilt(byo_path, tmp_path):
    from byo_elastic.evaluator import space

    study = Study.create(tmp_path / "c.db", evaluator="byo_elastic.evaluator:evaluate",
                         space=space(), objectives=["accuracy", "params"], metrics=[],
                         strategy="random", seed=0)
    with pytest.raises(Exception, match="returned no 'params'"):
        study.optimize(3, progress=False)
    assert not [r for r in study.results() if r.ok]


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x}


@pytest.mark.parametrize("search_seed", [0, 1, 5])
def test_searching_never_measures_on_training_samples(trained, tmp_path, search_seed):
    from hwnas.data import load_dataset

    study = Study.create(tmp_path / "s.db", checkpoint=trained, objectives=["accuracy"],
                         metrics=[], seed=search_seed)
    measured_on = study.evaluator().data
    trained_on = load_dataset("digits", seed=3)
    assert study.spec.evaluation.data.split_seed == 3
    assert not _rows(measured_on.val_x) & _rows(trained_on.train_x)
    assert len(_rows(measured_on.val_x)) == len(measured_on.val_x)  # real, distinct samples
    naive = load_dataset("digits", seed=search_seed)  # what splitting by the search seed gave
    assert _rows(naive.val_x) & _rows(trained_on.train_x)


def test_a_retrained_checkpoint_is_refused_on_resume(tmp_path):
    from hwnas.workflow import train_supernet

    checkpoint = tmp_path / "supernet.pt"
    train_supernet(checkpoint, supernet="tiny_elastic_cnn", epochs=1, seed=0, progress=False)
    study = Study.create(tmp_path / "s.db", checkpoint=checkpoint,
                         objectives=["accuracy", "params"], metrics=[], strategy="random")
    assert study.spec.evaluation.source.name == "supernet.pt"  # beside the study: relative
    study.optimize(2, progress=False)
    train_supernet(checkpoint, supernet="tiny_elastic_cnn", epochs=1, seed=1, progress=False)
    with pytest.raises(CheckpointError, match="changed since the study was created"):
        Study.load(tmp_path / "s.db").optimize(4, progress=False)
    assert len(Study.load(tmp_path / "s.db").finished()) == 2  # still readable


def test_a_study_folder_moved_as_a_whole_still_finds_its_checkpoint(trained, tmp_path):
    import shutil

    folder = tmp_path / "a"
    folder.mkdir()
    shutil.copy(trained, folder / "supernet.pt")
    Study.create(folder / "s.db", checkpoint=folder / "supernet.pt",
                 objectives=["params"], metrics=[], strategy="random").optimize(
        2, progress=False)
    moved = tmp_path / "b"
    shutil.move(folder, moved)
    study = Study.load(moved / "s.db")
    study.optimize(3, progress=False)
    assert len(study.finished()) == 3


def test_the_pipeline_never_touches_the_supernet_weights(trained):
    from hwnas.data import load_dataset
    from hwnas.supernets import load_supernet

    supernet = load_supernet(trained)
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    pipeline = Pipeline(supernet, [Metric.named("accuracy")], load_dataset("digits", seed=3))
    for config in (supernet.space.smallest(), supernet.space.largest()):
        pipeline(config)
    assert all(torch.equal(before[k], v) for k, v in supernet.state_dict().items())


def test_results_must_be_measurements():
    space_evaluator = {"calls": 0}

    def evaluate(config):
        space_evaluator["calls"] += 1
        return {"params": Measurement(1.0)}

    from hwnas.space import Choice, SearchSpace

    study = Study.create(":memory:", space=SearchSpace([Choice("x", (1, 2))]),
                         evaluator=evaluate, objectives=["params"], metrics=[],
                         strategy="random")
    study.optimize(2, progress=False)
    assert space_evaluator["calls"] == 2

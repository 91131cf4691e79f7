"""The thread budget: every stage of an evaluation runs under the pipeline's thread count,
read back through torch's own setting and ONNX Runtime's session options."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from hwnas.data import load_dataset
from hwnas.errors import InvalidConfigError
from hwnas.evaluation import Pipeline, build_evaluator, create_evaluator
from hwnas.evaluation.pipeline import Artifacts, Transform
from hwnas.evaluation.spec import EvaluatorSpec
from hwnas.measure import LatencyMeasure, Measure, MeasureContext, Measurement, Metric
from hwnas.measure.prepare import Recalibrate
from hwnas.supernets import create_supernet
from hwnas.threads import current_threads, ort_session, ort_session_options, thread_budget


def test_the_budget_sets_torch_and_onnxruntime_and_restores():
    before = torch.get_num_threads()
    with thread_budget(2):
        assert torch.get_num_threads() == 2 and current_threads() == 2
        assert ort_session_options().intra_op_num_threads == 2
        with thread_budget(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before and current_threads() == 1
    with pytest.raises(InvalidConfigError, match="threads"):
        with thread_budget(0):
            pass


def test_an_onnxruntime_session_gets_the_budget():
    supernet = create_supernet("tiny_elastic_cnn").eval()
    from hwnas.measure import export_onnx

    onnx = export_onnx(supernet.extract(supernet.space.smallest()).eval(),
                       supernet.example_input(1))
    with thread_budget(2):
        session = ort_session(onnx)
    assert session.get_session_options().intra_op_num_threads == 2
    assert ort_session(onnx, threads=3).get_session_options().intra_op_num_threads == 3


class Recording:
    """A super-network whose sub-networks note torch's thread count at every forward,
    with whether they ran in training mode (recalibration) and the batch size."""

    def __init__(self) -> None:
        self.inner = create_supernet("tiny_elastic_cnn").eval()
        self.space, self.input_shape = self.inner.space, self.inner.input_shape
        self.calls: list[tuple[bool, int, int]] = []
        self.exporting = False

    def example_input(self, batch_size: int) -> torch.Tensor:
        return self.inner.example_input(batch_size)

    def extract(self, config: dict) -> torch.nn.Module:
        module = self.inner.extract(config)

        def note(part: torch.nn.Module, args: tuple) -> None:
            if not self.exporting:
                self.calls.append((part.training, int(args[0].shape[0]),
                                   torch.get_num_threads()))

        module.register_forward_pre_hook(note)
        return module


class SessionThreads(Measure):
    """The intra-op threads of the ONNX Runtime session the pipeline hands over."""

    name = "session_threads"

    @property
    def consumes(self) -> str:
        return "session"

    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        return Measurement(float(artifact.get_session_options().intra_op_num_threads))


class TorchThreads(Measure):
    name = "torch_threads"

    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        return Measurement(float(torch.get_num_threads()))


class NoteExport(Transform):
    """Exports to ONNX in the transform stage and notes torch's threads while it does."""

    name = "note_export"

    def __init__(self, supernet: Recording) -> None:
        self.threads: list[int] = []
        self.supernet = supernet

    def __call__(self, artifacts: Artifacts) -> Artifacts:
        self.threads.append(torch.get_num_threads())
        self.supernet.exporting = True
        try:
            if not artifacts.onnx:  # the export runs here, under the budget
                raise AssertionError("no ONNX bytes")
        finally:
            self.supernet.exporting = False
        return artifacts


def test_every_stage_runs_under_the_pipeline_budget():
    supernet = Recording()
    data = load_dataset("digits", seed=0)
    export = NoteExport(supernet)
    latency = LatencyMeasure(threads=3, repeats=3, warmup=0, max_rounds=1, method="median",
                             min_sample_ms=0.1)
    pipeline = Pipeline(supernet, [Metric("accuracy", _accuracy()), Metric("lat", latency),
                                   Metric("ort", SessionThreads()),
                                   Metric("torch", TorchThreads())],
                        data, Recalibrate(batches=2, batch_size=16), export, threads=2)
    outside = torch.get_num_threads()
    measured = pipeline(supernet.space.largest())
    assert torch.get_num_threads() == outside
    recalibration = [t for training, _, t in supernet.calls if training]
    accuracy = [t for training, batch, t in supernet.calls if not training and batch > 1]
    timed = [t for training, batch, t in supernet.calls if not training and batch == 1]
    assert recalibration and set(recalibration) == {2}
    assert accuracy and set(accuracy) == {2}
    assert timed and set(timed) == {3}  # latency times with its own threads
    assert export.threads == [2]
    assert measured["ort"].value == 2 and measured["torch"].value == 2


def _accuracy() -> Measure:
    from hwnas.measure import create_measure

    return create_measure("accuracy", {"batch_size": 64})


def test_recalibration_takes_its_own_threads_or_the_budget():
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    seen: list[int] = []
    module.register_forward_pre_hook(lambda m, a: seen.append(torch.get_num_threads()))
    Recalibrate(batches=1, batch_size=8, threads=2)(module, torch.randn(8, 3))
    with thread_budget(1):
        Recalibrate(batches=1, batch_size=8)(module, torch.randn(8, 3))
    assert seen == [2, 1]
    assert "threads" not in Recalibrate().settings()  # stored specs stay as they were


def test_the_spec_stores_the_budget():
    created = create_evaluator(base_dir=None, objectives=["params"], supernet="tiny_elastic_cnn",
                               threads=2)
    assert created.spec.threads == 2 and created.evaluator.threads == 2
    spec = EvaluatorSpec.from_dict(created.spec.to_dict())
    assert spec.threads == 2 and build_evaluator(spec).threads == 2
    old = created.spec.to_dict()
    del old["threads"]  # a spec stored before the budget existed
    assert EvaluatorSpec.from_dict(old).threads == 1
    with pytest.raises(InvalidConfigError, match="threads"):
        create_evaluator(base_dir=None, objectives=["params"], supernet="tiny_elastic_cnn",
                         threads=0)

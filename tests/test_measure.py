from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.errors import InvalidConfigError, UnknownNameError
from hwnas.measure import (
    MEASURES,
    LatencyMeasure,
    MeasureContext,
    Objective,
    count_macs,
    count_params,
    model_size_bytes,
)
from hwnas.supernets import create_supernet


def test_macs_and_params_by_hand():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 10))
    x = torch.randn(1, 1, 8, 8)
    assert count_macs(model, x) == 4 * 8 * 8 * 9 + 256 * 10
    assert count_params(model) == 36 + 2560 + 10
    assert model_size_bytes(model) == 4 * (36 + 2570)


def test_counts_grow_with_the_subnetwork():
    supernet = create_supernet("elastic_cnn")
    small = supernet.extract(supernet.space.smallest())
    large = supernet.extract(supernet.space.largest())
    x = supernet.example_input(1)
    assert count_macs(small, x) < count_macs(large, x)
    assert count_params(small) < count_params(large)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_latency_is_positive_with_spread(backend):
    supernet = create_supernet("tiny_elastic_cnn")
    model = supernet.extract(supernet.space.largest()).eval()
    from hwnas.measure import export_onnx

    measure = LatencyMeasure(backend=backend, repeats=5, warmup=2, min_sample_ms=1.0)
    example = supernet.example_input(1)
    artifact = export_onnx(model, example) if measure.consumes == "onnx" else model
    result = measure(artifact, MeasureContext(example))
    # the robust method measures another round of 5 while the figure is uncertain
    assert result.value > 0 and result.spread >= 0 and result.repeats in (5, 10, 15)
    assert result.quality in ("ok", "noisy")


def test_onnx_export_matches_torch():
    import onnxruntime as ort

    from hwnas.measure import export_onnx

    supernet = create_supernet("tiny_elastic_cnn").eval()
    model = supernet.extract(supernet.space.sample(np.random.default_rng(0))).eval()
    x = supernet.example_input(2)
    session = ort.InferenceSession(export_onnx(model, supernet.example_input(1)),
                                   providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": x.numpy()})  # batch 2 on a batch-1 export
    np.testing.assert_allclose(output, model(x).detach().numpy(), atol=1e-5)


def test_latency_settings_are_checked():
    with pytest.raises(InvalidConfigError, match="backend"):
        LatencyMeasure(backend="tensorrt")
    with pytest.raises(InvalidConfigError, match="batch_size"):
        LatencyMeasure(batch_size=0)


def test_unknown_objective_lists_valid_names():
    with pytest.raises(UnknownNameError, match="did you mean 'latency'.*Valid names"):
        Objective.named("latncy")
    with pytest.raises(InvalidConfigError, match="direction"):
        Objective("latency", "smaller", MEASURES.create("latency"))


def test_an_objective_is_its_key_a_key_direction_pair_or_itself():
    from hwnas.measure.objectives import as_objective

    pair = as_objective(("latency@b1", "minimize"))
    assert (pair.key, pair.direction) == ("latency@b1", "minimize") == \
        (as_objective("latency@b1").key, as_objective("latency@b1").direction)
    assert as_objective(pair) is pair
    with pytest.raises(InvalidConfigError, match="direction"):
        as_objective(("latency", "smaller"))
    for bad in (("latency",), 3, ("latency", "minimize", "x")):
        with pytest.raises(InvalidConfigError, match="a .key, direction. pair"):
            as_objective(bad)


def test_misspelt_measure_option_raises():
    from hwnas.errors import HwnasError

    with pytest.raises(HwnasError, match="batch_sise"):
        MEASURES.create("latency", batch_sise=4)


def test_accuracy_recalibrates_on_a_copy_not_the_supernet():
    from hwnas.data import load_dataset
    from hwnas.evaluation import Pipeline
    from hwnas.measure import Metric

    supernet = create_supernet("tiny_elastic_cnn").eval()
    data = load_dataset("digits")
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    evaluator = Pipeline(supernet, [Metric.named("accuracy"), Metric.named("macs")], data)
    measured = evaluator(supernet.space.smallest())
    assert 0.0 <= measured["accuracy"].value <= 1.0 and measured["macs"].value > 0
    after = supernet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

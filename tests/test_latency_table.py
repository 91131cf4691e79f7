"""Latency lookup tables: units and their keys, summation of hand-given unit times, the
affine correction, storage keyed by the target, and the cheap ``latency_table`` measure.
Unit times are given by hand (``time_unit``), so nothing here depends on the clock."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure import LatencyMeasure, MeasureContext, create_measure
from hwnas.measure.latency_table import (
    LatencyTable,
    LatencyTableMeasure,
    decompose,
    unit_signature,
)
from hwnas.supernets import create_supernet

# per-target files (reference latencies, tables) in a folder of each test
pytestmark = pytest.mark.usefixtures("target_cache")


def hand_time(unit) -> float:
    """A made-up time per unit: 0.01 ms plus 1 ms per thousand parameters."""
    return 0.01 + sum(p.numel() for p in unit.module.parameters()) / 1000


def test_units_are_the_children_called_with_their_inputs_and_keyed_by_structure():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                        nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.Flatten())
    units = decompose(net, torch.randn(2, 1, 8, 8))
    assert [type(u.module).__name__ for u in units] == ["Conv2d", "ReLU", "Conv2d", "ReLU",
                                                       "Conv2d", "Flatten"]
    assert tuple(units[2].args[0].shape) == (2, 4, 8, 8)
    signatures = [u.signature for u in units]
    assert signatures[2] == signatures[4]  # the same layer on the same shape: one entry
    assert signatures[1] == signatures[3]
    assert signatures[0] != signatures[2]  # other input channels
    wider = unit_signature(nn.Conv2d(4, 4, 3, padding=1, stride=2), units[2].args)
    assert wider != signatures[2]  # the stride counts
    assert unit_signature(units[2].module, (torch.randn(2, 4, 16, 16),)) != signatures[2]


def test_a_prediction_sums_the_hand_timed_units_then_corrects(target_cache):
    supernet = create_supernet("tiny_elastic_cnn").eval()
    table = LatencyTable(supernet, LatencyMeasure(), time_unit=hand_time)
    module = supernet.extract(supernet.space.largest()).eval()
    expected = sum(hand_time(u) for u in table.units(module))
    assert table.summed(module) == pytest.approx(expected)
    distinct = len({u.signature for u in table.units(module)})
    assert table.measured_units == distinct == len(table.entries)
    assert table.summed(module) == pytest.approx(expected)
    assert table.measured_units == distinct  # nothing measured twice

    rng = np.random.default_rng(0)
    configs = [supernet.space.sample(rng) for _ in range(6)]
    sums = [table.summed(supernet.extract(c).eval()) for c in configs]
    if np.ptp(sums) == 0:
        raise AssertionError("the sampled sub-networks should differ in their sums")
    fit = table.calibrate(configs, measured=[2.0 * s + 0.5 for s in sums])
    assert fit["slope"] == pytest.approx(2.0) and fit["intercept"] == pytest.approx(0.5)
    assert fit["residual"] == pytest.approx(0.0, abs=1e-9)
    assert table.predict(module) == pytest.approx(2.0 * expected + 0.5)
    assert table.predict_config(supernet.space.largest()) == pytest.approx(2.0 * expected + 0.5)


def test_units_are_timed_against_the_probe_when_the_reference_is_slow(target_cache,
                                                                      monkeypatch):
    from hwnas.measure import latency_table

    supernet = create_supernet("tiny_elastic_cnn").eval()
    measure = LatencyMeasure(repeats=3, warmup=0, max_rounds=1)
    used = []
    timed = measure.time

    def spy(run, context, reference=None):
        used.append(reference)
        return timed(run, context, reference)

    monkeypatch.setattr(measure, "time", spy)
    table = LatencyTable(supernet, measure, store=False)
    module = supernet.extract(supernet.space.smallest()).eval()
    unit = table.units(module)[0]
    table._measure_unit(unit)
    assert used[-1] == measure.reference(table._context)  # the reference is cheap here
    monkeypatch.setattr(latency_table, "UNIT_REFERENCE_MS", 0.0)  # now it is "slow"
    table._measure_unit(unit)
    assert used[-1] == measure.probe()


def test_tables_are_stored_by_target_and_rebuilt_when_it_changes(target_cache):
    supernet = create_supernet("tiny_elastic_cnn").eval()
    table = LatencyTable(supernet, LatencyMeasure(), time_unit=hand_time)
    config = supernet.space.largest()
    table.calibrate([config, supernet.space.smallest()], measured=[1.0, 0.5])
    assert table.path.is_file() and table.path.parent.parent == target_cache

    again = LatencyTable(supernet, LatencyMeasure(), time_unit=hand_time)
    assert again.key == table.key and again.entries == table.entries and again.calibrated
    assert again.predict_config(config) == pytest.approx(table.predict_config(config))
    assert again.measured_units == 0  # all from the stored table

    for other in (LatencyMeasure(threads=2), LatencyMeasure(batch_size=4),
                  LatencyMeasure(backend="onnxruntime")):
        rebuilt = LatencyTable(supernet, other, time_unit=hand_time)
        assert rebuilt.key != table.key and rebuilt.entries == {} and not rebuilt.calibrated
    other_space = create_supernet("tiny_elastic_cnn", {"num_classes": 3}).eval()
    assert LatencyTable(other_space, LatencyMeasure(), time_unit=hand_time).key != table.key


def test_the_cheap_measure_uses_the_stored_table(target_cache):
    supernet = create_supernet("tiny_elastic_cnn").eval()
    measure = create_measure("latency_table", {"calibration": 2})
    assert isinstance(measure, LatencyTableMeasure) and measure.cost == "cheap"
    table = LatencyTable(supernet, measure.latency, time_unit=hand_time)
    config = supernet.space.largest()
    table.calibrate([config, supernet.space.smallest()], measured=[3.0, 1.0])
    module = supernet.extract(config).eval()
    figure = measure(module, MeasureContext(supernet.example_input(1), supernet=supernet))
    assert figure.value == pytest.approx(3.0)  # a calibration point, fitted exactly
    assert figure.spread == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(InvalidConfigError, match="super-network"):
        measure(module, MeasureContext(supernet.example_input(1)))


def test_units_of_other_families_are_found(target_cache):
    for name in ("tiny_elastic_transformer", "tiny_ofa_mobilenet_v3", "tiny_ofa_resnet50"):
        supernet = create_supernet(name).eval()
        table = LatencyTable(supernet, LatencyMeasure(), time_unit=hand_time, store=False)
        module = supernet.extract(supernet.space.largest()).eval()
        units = table.units(module)
        assert len(units) >= 3
        assert table.summed(module) == pytest.approx(sum(hand_time(u) for u in units))


def test_the_table_screens_sub_networks_before_anything_expensive(target_cache, tmp_path):
    from hwnas import Study

    supernet = create_supernet("tiny_elastic_cnn").eval()
    measure = create_measure("latency_table", {"calibration": 2})
    table = LatencyTable(supernet, measure.latency, time_unit=hand_time)
    configs = list(supernet.space.enumerate())
    sums = [table.summed(supernet.extract(c).eval()) for c in configs]  # every unit, by hand
    table.calibrate(configs[:2], measured=sums[:2])  # slope 1, intercept 0
    bound = float(np.median(sums))
    study = Study.create(tmp_path / "screened.db", supernet="tiny_elastic_cnn",
                         objectives=["params", "macs"],
                         metrics=["latency_table:latency_table:calibration=2"],
                         constraints=[f"latency_table<={bound}"], strategy="random", seed=0)
    study.optimize(5, progress=False)
    results = study.results()
    assert all(r.metrics["latency_table"] <= bound + 1e-9 for r in results if r.ok)
    stored = LatencyTable(supernet, measure.latency, time_unit=hand_time)
    assert stored.entries == table.entries  # the study timed nothing: all from the table
    screened = [r for r in results if not r.ok]
    if screened:
        assert all(r.metrics["latency_table"] > bound and "params" not in r.metrics
                   for r in screened)


def test_a_table_timed_by_another_unit_rule_is_another_target(monkeypatch):
    from hwnas.measure import latency_table

    supernet = create_supernet("tiny_elastic_cnn").eval()
    before = LatencyTable(supernet, LatencyMeasure(), store=False).key
    monkeypatch.setattr(latency_table, "UNIT_REFERENCE_MS", 2.0)  # the rule before 2026-12-04
    assert LatencyTable(supernet, LatencyMeasure(), store=False).key != before

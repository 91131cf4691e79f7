"""Robust latency: the quality flag and re-measuring on fake clocks, the reference network's
normalisation, several latency targets in one study, re-measuring a noisy front. No
timing assertions: the clocks here are fake, or only structure is checked."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from hwnas import Study
from hwnas.errors import InvalidConfigError
from hwnas.measure import LatencyMeasure, MeasureContext, Measurement, Objective
from hwnas.measure.hardware import TARGETS_ATTR
from hwnas.measure.latency import REFERENCE_FILE, time_robust
from hwnas.measure.noise import (
    NoisyMachineWarning,
    after_search,
    apply_remeasured,
    noise_warning,
    remeasure_noisy_front,
    warn_if_noisy,
)
from hwnas.supernets import create_supernet

# per-target files (reference latencies, tables) in a folder of each test
pytestmark = pytest.mark.usefixtures("target_cache")


class FakeClock:
    """A clock that advances only when ``work`` is done on it (ms, scaled by ``speed``),
    plus ``noise`` drawn per reading: a stand-in for a machine that does other work."""

    def __init__(self, noise: float = 0.0, step: float = 0.0, seed: int = 0) -> None:
        self.now, self.noise, self.step, self.speed = 0.0, noise, step, 1.0
        self.rng = np.random.default_rng(seed)

    def __call__(self) -> float:
        self.now += self.step * 1e-3
        if self.noise:
            self.now += float(self.rng.exponential(self.noise)) * 1e-3
        return self.now

    def work(self, ms: float):
        def run() -> None:
            self.now += ms * self.speed * 1e-3
        return run


def robust(clock: FakeClock, run, reference=None, reference_ms=None, **options):
    settings = dict(warmup=1, repeats=10, min_sample_ms=0.1, percentile=25.0,
                    max_uncertainty=0.05, max_rounds=3)
    settings.update(options)
    return time_robust(run, reference, reference_ms, timer=clock, **settings)


def test_a_steady_clock_is_measured_once_and_flagged_ok():
    clock = FakeClock()
    figure = robust(clock, clock.work(2.0))
    assert figure.quality == "ok" and figure.repeats == 10
    assert figure.value == pytest.approx(2.0) and figure.spread == pytest.approx(0.0)


def test_a_noisy_clock_is_remeasured_then_flagged_noisy():
    clock = FakeClock(noise=3.0)
    figure = robust(clock, clock.work(2.0))
    assert figure.quality == "noisy"
    assert figure.repeats == 30  # every one of the three rounds was measured
    assert figure.spread > 0


def test_the_reference_ratio_cancels_a_slower_machine():
    clock = FakeClock()
    target, reference = clock.work(3.0), clock.work(1.0)
    before = robust(clock, target, reference, reference_ms=1.0)
    clock.speed = 1.7  # the machine got 70% slower for both
    after = robust(clock, target, reference, reference_ms=1.0)
    assert before.value == pytest.approx(3.0) and after.value == pytest.approx(3.0)
    clock.speed = 1.0
    unreferenced = robust(clock, target)
    clock.speed = 1.7
    assert robust(clock, target).value == pytest.approx(1.7 * unreferenced.value)


def test_sub_network_and_reference_are_sampled_in_pairs_in_one_order():
    clock = FakeClock()
    target, reference = clock.work(3.0), clock.work(1.0)
    speeds = iter(np.random.default_rng(0).uniform(1.0, 2.0, size=1000))

    def reference_then_drift() -> None:  # the machine's speed changes after every pair
        reference()
        clock.speed = float(next(speeds))

    figure = robust(clock, target, reference_then_drift, reference_ms=1.0, warmup=0)
    # each pair ran at one speed, so both percentiles saw the same speeds: the ratio is exact
    assert figure.value == pytest.approx(3.0, rel=1e-9)
    assert figure.repeats == 30 and figure.quality == "noisy"  # the speeds spread widely


def test_the_measure_flags_noise_through_an_injected_timer():
    supernet = create_supernet("tiny_elastic_cnn").eval()
    module = supernet.extract(supernet.space.largest()).eval()
    context = MeasureContext(supernet.example_input(1))  # no super-network: no reference
    noisy = LatencyMeasure(repeats=5, warmup=0, max_rounds=2, timer=FakeClock(noise=5.0))
    figure = noisy(module, context)
    assert figure.quality == "noisy" and figure.repeats == 10
    steady = LatencyMeasure(repeats=5, warmup=0, max_rounds=2, timer=FakeClock(step=2.0))
    figure = steady(module, context)  # every sample reads 2 ms: ok after one round
    assert figure.quality == "ok" and figure.repeats == 5
    assert figure.value == pytest.approx(2.0)


def test_the_reference_latency_is_stored_once_per_target(target_cache):
    supernet = create_supernet("tiny_elastic_cnn").eval()
    module = supernet.extract(supernet.space.largest()).eval()
    context = MeasureContext(supernet.example_input(1), supernet=supernet)
    first = LatencyMeasure(repeats=3, warmup=0, max_rounds=1)(module, context)
    assert first.value > 0 and first.quality in ("ok", "noisy")
    stored = json.loads((target_cache / REFERENCE_FILE).read_text())
    assert len(stored) == 1
    LatencyMeasure(repeats=3, warmup=0, max_rounds=1, batch_size=2)(module, context)
    assert len(json.loads((target_cache / REFERENCE_FILE).read_text())) == 2  # another target


def test_the_probe_network_is_a_stored_reference_of_its_own(target_cache):
    supernet = create_supernet("tiny_elastic_cnn").eval()
    measure = LatencyMeasure(repeats=3, warmup=0, max_rounds=1)
    run, probe_ms = measure.probe()
    run()
    assert probe_ms > 0 and measure.probe()[1] == probe_ms
    context = MeasureContext(supernet.example_input(1), supernet=supernet)
    measure(supernet.extract(supernet.space.largest()).eval(), context)
    stored = json.loads((target_cache / REFERENCE_FILE).read_text())
    assert len(stored) == 2  # the probe and the super-network's reference
    assert probe_ms in [entry["ms"] for entry in stored.values()]


def test_settings_are_checked_and_stored():
    with pytest.raises(InvalidConfigError, match="method"):
        LatencyMeasure(method="mean")
    with pytest.raises(InvalidConfigError, match="clock"):
        LatencyMeasure(clock="sundial")
    with pytest.raises(InvalidConfigError, match="onnxruntime backend only"):
        LatencyMeasure(provider="CUDAExecutionProvider")
    settings = LatencyMeasure(backend="onnxruntime").settings()
    assert settings["provider"] == "CPUExecutionProvider" and settings["method"] == "robust"
    parsed = Objective.parse("lat@ort:latency:backend=onnxruntime,"
                             "provider=CPUExecutionProvider,threads=2,batch_size=4")
    assert (parsed.measure.provider, parsed.measure.threads, parsed.measure.batch_size) == \
        ("CPUExecutionProvider", 2, 4)


def test_an_unavailable_execution_provider_says_which_are():
    supernet = create_supernet("tiny_elastic_cnn").eval()
    module = supernet.extract(supernet.space.smallest()).eval()
    measure = LatencyMeasure(backend="onnxruntime", provider="NoSuchExecutionProvider",
                             repeats=3, warmup=0)
    with pytest.raises(InvalidConfigError, match="available.*CPUExecutionProvider"):
        measure(module, MeasureContext(supernet.example_input(1)))


FAST = "repeats=3,warmup=0,max_rounds=1,min_sample_ms=0.2"


def test_several_latency_targets_in_one_study(tmp_path):
    objectives = [f"latency@b1:latency:batch_size=1,{FAST}",
                  f"latency@b8:latency:batch_size=8,threads=2,{FAST}",
                  f"latency@ort:latency:backend=onnxruntime,{FAST}"]
    study = Study.create(tmp_path / "study.db", supernet="tiny_elastic_cnn",
                         objectives=objectives, metrics=["params"], strategy="random",
                         seed=0)
    study.optimize(3, progress=False)
    study = Study.load(tmp_path / "study.db")
    keys = ["latency@b1", "latency@b8", "latency@ort"]
    settings = {m.key: m.settings for m in study.spec.evaluation.measures}
    assert settings["latency@b8"]["threads"] == 2 and settings["latency@b8"]["batch_size"] == 8
    assert settings["latency@ort"]["provider"] == "CPUExecutionProvider"
    finished = study.finished()
    assert len(finished) == 3
    assert all(r.metrics[k] > 0 and k in r.spreads for r in finished for k in keys)
    for pair in (keys[:2], keys[1:]):
        front = study.pareto_front(objectives=pair)
        assert 1 <= len(front) <= 3
        assert study.hypervolume(objectives=pair) >= 0.0

    with warnings.catch_warnings():  # this machine may well be too noisy
        warnings.simplefilter("ignore", NoisyMachineWarning)
        after_search(study)  # what a search calls when it ends
        targets = study.storage.get_study_user_attrs(study._study_id)[TARGETS_ATTR]
        after_search(study)  # the same machine: recorded once
    assert sorted(targets) == keys
    described = targets["latency@ort"][0]["description"]
    assert described["provider"] == "CPUExecutionProvider" and described["backend"] == \
        "onnxruntime"
    assert targets["latency@b8"][0]["description"]["threads"] == 2
    assert "cpu" in described["machine"] and "onnxruntime" in described["machine"]["packages"]
    assert study.storage.get_study_user_attrs(study._study_id)[TARGETS_ATTR] == targets

    # every latency figure counts as noisy at a zero threshold: the front is re-measured
    # and its figures are put in place before reporting
    # (after_search may already have re-measured the noisiest at its default threshold)
    front = study.pareto_front(objectives=keys[:2])
    fresh = remeasure_noisy_front(study, objectives=keys[:2], max_relative_spread=0.0)
    assert set(fresh) <= {r.number for r in front}
    assert remeasure_noisy_front(study, objectives=keys[:2], max_relative_spread=0.0) == {}
    stored = study.storage.get_study_user_attrs(study._study_id)["remeasured"]
    remeasured = {int(n): e for n, e in stored.items() if int(n) in {r.number for r in front}}
    assert remeasured  # every front member of the pair was re-measured, then or now
    shown = {r.number: r for r in apply_remeasured(study, front)}
    reported = {r.number: r for r in study.feasible()}  # what fronts and reports use
    for number, entry in remeasured.items():
        assert shown[number].extras["remeasured"] == sorted(entry["metrics"])
        for key, value in entry["metrics"].items():
            assert shown[number].metrics[key] == value == reported[number].metrics[key]


def test_the_remeasure_command_runs_on_a_study(tmp_path, capsys):
    from hwnas.cli import main

    study = Study.create(tmp_path / "cli.db", supernet="tiny_elastic_cnn",
                         objectives=[f"latency:latency:{FAST}", "params"], metrics=[],
                         strategy="random", seed=0)
    study.optimize(3, progress=False)
    # the search's end may have re-measured its noisiest front members already: start over
    study.storage.set_study_user_attr(study._study_id, "remeasured", {})
    with pytest.raises(SystemExit) as exited:
        main(["remeasure", "--study", str(tmp_path / "cli.db"), "--max-relative-spread", "0"])
    assert exited.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "front member(s) re-measured" in printed and "trial " in printed


def noisy_evaluator(config):
    return {"latency": Measurement(1.0 + config["x"], 2.0, 5, "noisy"),
            "macs": Measurement(float(config["x"]))}


def test_a_noisy_machine_is_warned_about(tmp_path):
    from hwnas.space import Choice, SearchSpace

    space = SearchSpace([Choice("x", (1, 2, 3, 4))])
    study = Study.create(tmp_path / "noisy.db", evaluator=noisy_evaluator, space=space,
                         objectives=["latency", "macs"], metrics=[], strategy="random")
    study.optimize(3, progress=False)
    message = noise_warning(study)
    assert message is not None and "too busy" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_noisy(study)
    assert any(issubclass(w.category, NoisyMachineWarning) for w in caught)


def steady_evaluator(config):
    return {"latency": Measurement(1.0 + config["x"], 0.01, 5),
            "macs": Measurement(float(config["x"]))}


def test_a_quiet_machine_is_not_warned_about(tmp_path):
    from hwnas.space import Choice, SearchSpace

    space = SearchSpace([Choice("x", (1, 2, 3, 4))])
    study = Study.create(tmp_path / "quiet.db", evaluator=steady_evaluator, space=space,
                         objectives=["latency", "macs"], metrics=[], strategy="random")
    study.optimize(3, progress=False)
    assert noise_warning(study) is None

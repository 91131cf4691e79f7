"""Latency measured on this machine, robust to a machine that does other work.

Two methods (``method=``):

- ``"robust"`` (the default): ``repeats`` (default 50) pairs of short samples, one call
  each (several for calls under 0.1 ms): the sub-network, then a reference network (the
  super-network's smallest sub-network, same backend and settings), always in that order
  (a network timed right after another finds the other's data in the caches; alternating
  the order mixed two populations of samples), timed by the calling thread's CPU time at
  one intra-op thread (a preemption by another process does not count) and by the wall
  clock otherwise. Interference only ever adds time, so a low percentile
  (``percentile``, default the 5th) is the estimate; the figure is that percentile of the
  samples over the same percentile of the reference's samples, times the reference's
  latency (measured once per target and stored, :func:`reference_latency_ms`): a shared
  machine's speed drifts by tens of percent over seconds (frequency, a busy host, caches
  shared with other jobs) and slows both alike, and the figure stays in milliseconds on a
  stable scale. While the 95% confidence intervals of the two percentiles are together
  wider than ``max_uncertainty`` of them, another round is measured (up to
  ``max_rounds``); a figure still that uncertain is flagged ``quality="noisy"``. Without
  a super-network to take the reference from, the samples' percentile is the figure (with
  the same re-measuring and flag). Parts of a sub-network (a latency table's units) can
  be timed against a small fixed *probe* network instead (:meth:`LatencyMeasure.probe`).
- ``"median"``: the method before: the median of ``repeats`` (default 25) wall-clock
  samples of at least ``min_sample_ms`` each.

Every figure carries its spread (the samples' inter-quartile range, in ms) and a quality
flag. ``benchmarks/latency_under_load.py`` compares the two methods beside two busy
processes; ``benchmarks/latency_stability.py`` measures idle repeatability.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.hardware import cache_dir, describe_target, target_key
from hwnas.measure.onnx import export_onnx, onnx_feed
from hwnas.supernets import io
from hwnas.threads import CPU_PROVIDER, ort_session, thread_budget

BACKENDS = ("torch", "onnxruntime")
METHODS = ("robust", "median")
Timer = Callable[[], float]
#: ``wall``: elapsed time; ``cpu``: the calling thread's CPU time, which a preemption by
#: another process does not advance (exact for one intra-op thread, where all the work
#: runs on the calling thread); ``auto``: ``cpu`` for the robust method at one thread,
#: else ``wall``
CLOCKS: dict[str, Timer] = {"wall": time.perf_counter, "cpu": time.thread_time}
#: the robust method's samples: one call, or as many as last this long
ROBUST_SAMPLE_MS = 0.1


@contextmanager
def torch_threads(threads: int):
    """Run the block with ``threads`` intra-op threads, then restore the setting (the
    thread budget of :mod:`hwnas.threads`)."""
    with thread_budget(threads):
        yield


def _calls_per_sample(run: Callable[[], Any], min_sample_ms: float, timer: Timer) -> int:
    """How many calls make one sample last ``min_sample_ms`` (as ``timeit``'s autorange)."""
    calls = 1
    while True:
        start = timer()
        for _ in range(calls):
            run()
        elapsed_ms = (timer() - start) * 1e3
        if elapsed_ms >= min_sample_ms or calls >= 1 << 16:
            return calls
        calls *= 2


def _sample_ms(run: Callable[[], Any], calls: int, timer: Timer) -> float:
    start = timer()
    for _ in range(calls):
        run()
    return (timer() - start) * 1e3 / calls


def time_callable(run: Callable[[], Any], warmup: int, repeats: int,
                  min_sample_ms: float, timer: Timer = time.perf_counter) -> Measurement:
    """Median milliseconds per call of ``run`` over ``repeats`` timed samples (the
    ``"median"`` method)."""
    for _ in range(warmup):
        run()
    calls = _calls_per_sample(run, min_sample_ms, timer)
    samples = [_sample_ms(run, calls, timer) for _ in range(repeats)]
    q1, median, q3 = np.percentile(samples, [25, 50, 75])
    return Measurement(float(median), float(q3 - q1), repeats)


def quantile_uncertainty(values: Any, percentile: float) -> float:
    """The width of the distribution-free 95% confidence interval of the ``percentile``-th
    percentile of ``values`` (order statistics ``n p -+ 1.96 sqrt(n p (1 - p))``), relative
    to that percentile.

    >>> quantile_uncertainty([1.0] * 20 + [5.0] * 5, 25)
    0.0
    >>> quantile_uncertainty([1.0, 2.0, 3.0, 4.0], 50) > 1
    True
    """
    ordered = np.sort(np.asarray(values, dtype=float))
    count, fraction = len(ordered), percentile / 100
    half = 1.96 * np.sqrt(count * fraction * (1 - fraction))
    low = max(int(np.floor(count * fraction - half)), 0)
    high = min(int(np.ceil(count * fraction + half)), count - 1)
    value = float(np.percentile(ordered, percentile))
    return float((ordered[high] - ordered[low]) / value) if value > 0 else float("inf")


def time_robust(run: Callable[[], Any], reference: Callable[[], Any] | None,
                reference_ms: float | None, *, warmup: int, repeats: int,
                min_sample_ms: float, percentile: float, max_uncertainty: float,
                max_rounds: int, timer: Timer = time.perf_counter) -> Measurement:
    """Milliseconds per call of ``run`` by the ``"robust"`` method: rounds of ``repeats``
    pairs, a sample of ``run`` then a sample of ``reference`` (whose latency is
    ``reference_ms``), always in that order: a network timed right after another runs
    with the other's data in the caches (the reference is ~10% slower right after the
    sub-network than right after itself), so alternating the order, as this method once
    did, mixes two populations of samples in each percentile. Interference only ever adds
    time, so the figure is the ``percentile``-th percentile of the samples divided by the
    same percentile of the reference's, times ``reference_ms``; the spread is the samples'
    inter-quartile range on that scale. (The median of the per-pair ratios repeats better
    on an idle machine but follows the share of contended moments under load:
    ``benchmarks/latency_under_load.py``.) Without a reference, the percentile of the
    samples. Rounds go on while the two percentiles' :func:`quantile_uncertainty` add up
    to more than ``max_uncertainty``, at most ``max_rounds``; then the figure is flagged
    "noisy"."""
    for _ in range(warmup):
        run()
        if reference is not None:
            reference()
    calls = _calls_per_sample(run, min_sample_ms, timer)
    reference_calls = _calls_per_sample(reference, min_sample_ms, timer) \
        if reference is not None else 0
    samples: list[float] = []
    reference_samples: list[float] = []
    uncertainty = float("inf")
    for _ in range(max_rounds):
        for _ in range(repeats):
            samples.append(_sample_ms(run, calls, timer))
            if reference is not None:
                reference_samples.append(_sample_ms(reference, reference_calls, timer))
        uncertainty = quantile_uncertainty(samples, percentile)
        if reference is not None:
            uncertainty += quantile_uncertainty(reference_samples, percentile)
        if uncertainty <= max_uncertainty:
            break
    q1, value, q3 = np.percentile(samples, [25, percentile, 75])
    scale = 1.0
    if reference is not None and reference_ms is not None:
        scale = reference_ms / max(float(np.percentile(reference_samples, percentile)), 1e-12)
    return Measurement(float(value * scale), float((q3 - q1) * scale), len(samples),
                       "ok" if uncertainty <= max_uncertainty else "noisy")


# -- the reference network's latency, measured once per target -----------------------------------
_REFERENCE_CACHE: dict[tuple[str, str], float] = {}
REFERENCE_FILE = "reference_latency.json"


def reference_latency_ms(key: str, measure_reference: Callable[[], float]) -> float:
    """The stored latency of the reference network of target ``key`` (in this process,
    else in ``cache_dir()/reference_latency.json``), measured by ``measure_reference`` on
    first need. One file lock serialises workers, so they all share one scale."""
    folder = cache_dir()
    cached = (str(folder), key)  # a process that moves its cache folder reads the new one
    if cached in _REFERENCE_CACHE:
        return _REFERENCE_CACHE[cached]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REFERENCE_FILE
    with open(folder / (REFERENCE_FILE + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored: dict[str, Any] = {}
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                stored = {}
        if key not in stored:
            stored[key] = {"ms": float(measure_reference()),
                           "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(stored, indent=1, sort_keys=True))
            os.replace(temporary, path)
    _REFERENCE_CACHE[cached] = float(stored[key]["ms"])
    return _REFERENCE_CACHE[cached]


class LatencyMeasure(Measure):
    """Milliseconds per forward pass of a batch of ``batch_size`` on this CPU, by torch
    eager or ONNX Runtime (``provider``: its execution provider) with ``threads`` intra-op
    threads; ``method`` as described in :mod:`hwnas.measure.latency`. ``timer`` (not a
    stored setting) replaces the clock, e.g. with a fake one in tests."""

    name, unit, direction = "latency", "ms", "minimize"

    def __init__(self, backend: str = "torch", batch_size: int = 1, threads: int = 1,
                 warmup: int = 10, repeats: int | None = None, min_sample_ms: float = 5.0,
                 method: str = "robust", provider: str = CPU_PROVIDER,
                 percentile: float = 5.0, max_uncertainty: float = 0.1, max_rounds: int = 3,
                 clock: str = "auto",
                 timer: Timer | None = None) -> None:
        if backend not in BACKENDS:
            raise InvalidConfigError(
                f"unknown latency backend {backend!r}; choose one of {list(BACKENDS)}"
            )
        if method not in METHODS:
            raise InvalidConfigError(
                f"unknown latency method {method!r}; choose one of {list(METHODS)}"
            )
        if repeats is None:
            repeats = 50 if method == "robust" else 25
        if batch_size < 1 or threads < 1 or repeats < 3 or warmup < 0 or max_rounds < 1:
            raise InvalidConfigError(
                "latency needs batch_size >= 1, threads >= 1, repeats >= 3, warmup >= 0 and "
                f"max_rounds >= 1; got batch_size={batch_size}, threads={threads}, "
                f"repeats={repeats}, warmup={warmup}, max_rounds={max_rounds}"
            )
        if clock != "auto" and clock not in CLOCKS:
            raise InvalidConfigError(f"unknown latency clock {clock!r}; choose one of "
                                     f"{['auto', *CLOCKS]}")
        if not 0 < percentile <= 50:
            raise InvalidConfigError(f"percentile must be in (0, 50] (a low percentile of the "
                                     f"samples, e.g. 5), got {percentile}")
        if not max_uncertainty > 0:
            raise InvalidConfigError(f"max_uncertainty must be > 0 (a fraction of the figure, "
                                     f"e.g. 0.1), got {max_uncertainty}")
        if provider != CPU_PROVIDER and backend != "onnxruntime":
            raise InvalidConfigError(f"provider={provider!r} applies to the onnxruntime "
                                     "backend only; give backend=onnxruntime")
        self.backend, self.batch_size, self.threads = backend, batch_size, threads
        self.warmup, self.repeats, self.min_sample_ms = warmup, repeats, min_sample_ms
        self.method, self.provider = method, provider
        self.max_uncertainty, self.max_rounds = max_uncertainty, max_rounds
        self.percentile = percentile
        self.clock = clock
        if clock == "auto":
            clock = "cpu" if method == "robust" and threads == 1 else "wall"
        self.timer: Timer = timer or CLOCKS[clock]
        self._references: dict[int, tuple[Callable[[], Any], float] | None] = {}
        self._probe: tuple[Callable[[], Any], float] | None = None

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "backend": self.backend, "batch_size": self.batch_size, "threads": self.threads,
            "warmup": self.warmup, "repeats": self.repeats, "min_sample_ms": self.min_sample_ms,
            "method": self.method, "percentile": self.percentile,
            "max_uncertainty": self.max_uncertainty,
            "max_rounds": self.max_rounds, "clock": self.clock}
        if self.backend == "onnxruntime":
            settings["provider"] = self.provider
        return settings

    @property
    def consumes(self) -> str:
        return "onnx" if self.backend == "onnxruntime" else "module"

    def target(self, **details: Any) -> dict[str, Any]:
        """The target this measure times on (see :mod:`hwnas.measure.hardware`)."""
        return describe_target(self.backend, self.threads, self.batch_size,
                               self.provider if self.backend == "onnxruntime" else None,
                               **details)

    def runner(self, artifact: Any, example_inputs: io.Inputs) -> Callable[[], Any]:
        """A function of no arguments that runs ``artifact`` once on a batch (call it inside
        ``thread_budget(self.threads)``; an ONNX session is made with the threads)."""
        batch = io.batch_of(example_inputs, self.batch_size)
        if self.backend == "onnxruntime":
            if isinstance(artifact, nn.Module):  # called directly on a module: export it
                artifact = export_onnx(artifact, example_inputs)
            return self.feed_runner(artifact, batch)
        model: nn.Module = artifact.eval()
        return lambda: io.forward(model, batch)

    def reference(self, context: MeasureContext) -> tuple[Callable[[], Any], float] | None:
        """The reference network's runner and stored latency for ``context``'s
        super-network (None without one that can extract its smallest sub-network)."""
        supernet = context.supernet
        space = getattr(supernet, "space", None)
        if supernet is None or space is None or not hasattr(supernet, "extract"):
            return None
        if id(supernet) not in self._references:
            smallest = space.smallest()
            module = supernet.extract(smallest).eval()
            run = self.runner(module, context.example_inputs)
            key = target_key(self.target(reference=type(supernet).__qualname__,
                                         reference_id=space.arch_id(smallest),
                                         reference_params=sum(p.numel()
                                                              for p in module.parameters()),
                                         input=_shapes(context.example_inputs)))

            self._references[id(supernet)] = (
                run, reference_latency_ms(key, lambda: self._time_alone(run)))
        return self._references[id(supernet)]

    def probe(self) -> tuple[Callable[[], Any], float]:
        """A small fixed network's runner and stored latency on this target
        (:func:`probe_network`): the reference for timing parts of a sub-network (a
        latency table's units) when the super-network's own reference is slow."""
        if self._probe is None:
            module, inputs = probe_network()
            with thread_budget(self.threads):
                run = self.runner(module, inputs)
            key = target_key(self.target(reference="probe", probe=PROBE_VERSION))

            def measure_probe() -> float:
                with thread_budget(self.threads):
                    return self._time_alone(run)

            self._probe = (run, reference_latency_ms(key, measure_probe))
        return self._probe

    def _time_alone(self, run: Callable[[], Any]) -> float:
        """A reference's own latency (ms): timed on its own, four times as many samples as
        a measurement, robust estimate."""
        with torch.inference_mode():
            return time_robust(run, None, None, warmup=self.warmup, repeats=4 * self.repeats,
                               min_sample_ms=ROBUST_SAMPLE_MS, percentile=self.percentile,
                               max_uncertainty=self.max_uncertainty,
                               max_rounds=self.max_rounds, timer=self.timer).value

    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        with thread_budget(self.threads), torch.inference_mode():
            return self.time(self.runner(artifact, context.example_inputs), context)

    def time(self, run: Callable[[], Any], context: MeasureContext,
             reference: tuple[Callable[[], Any], float] | None = None) -> Measurement:
        """Time ``run`` (a function of no arguments) by this measure's method, under its
        thread count; the reference (a runner and its stored latency) is ``reference``,
        else ``context``'s super-network's (:meth:`reference`)."""
        with thread_budget(self.threads), torch.inference_mode():
            if self.method == "median":
                return time_callable(run, self.warmup, self.repeats, self.min_sample_ms,
                                     self.timer)
            if reference is None:
                reference = self.reference(context)
            return time_robust(
                run, reference[0] if reference else None, reference[1] if reference else None,
                warmup=self.warmup, repeats=self.repeats,
                min_sample_ms=ROBUST_SAMPLE_MS, percentile=self.percentile,
                max_uncertainty=self.max_uncertainty,
                max_rounds=self.max_rounds, timer=self.timer)

    def feed_runner(self, onnx_bytes: bytes, inputs: io.Inputs) -> Callable[[], Any]:
        """A function of no arguments that runs ``onnx_bytes`` on exactly ``inputs``."""
        session = ort_session(onnx_bytes, self.threads, self.provider)
        feed = onnx_feed(inputs)
        return lambda: session.run(None, feed)


#: changes when :func:`probe_network` does (its stored latency is then measured again)
PROBE_VERSION = 1


def probe_network() -> tuple[nn.Module, torch.Tensor]:
    """The probe: two 3x3 convolutions and a linear layer on a 3x16x16 image (~0.1 ms on
    one core), with fixed weights, and its input."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                               nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
        inputs = torch.randn(1, 3, 16, 16)
    return module.eval(), inputs


def _shapes(inputs: io.Inputs) -> Any:
    if isinstance(inputs, torch.Tensor):
        return list(inputs.shape)
    if isinstance(inputs, dict):
        return {k: _shapes(v) for k, v in inputs.items()}
    return [_shapes(v) for v in inputs]


__all__ = ["BACKENDS", "CLOCKS", "METHODS", "LatencyMeasure",
           "probe_network", "quantile_uncertainty", "reference_latency_ms", "time_callable",
           "time_robust", "torch_threads"]

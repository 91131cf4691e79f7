"""Latency measured on this machine: warm-up runs, then repeated timed runs.

Each timed sample runs the model enough times to last at least ``min_sample_ms`` (as
``timeit``'s autorange), so tiny models are not lost in timer noise; the median of the
samples is the figure and their inter-quartile range is recorded as its spread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from hwnas.errors import InvalidConfigError
from hwnas.measure.base import Measure, MeasureContext, Measurement
from hwnas.measure.onnx import export_onnx, onnx_feed, onnx_session
from hwnas.supernets import io

BACKENDS = ("torch", "onnxruntime")


@contextmanager
def torch_threads(threads: int):
    """Run the block with ``threads`` intra-op threads, then restore the setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def time_callable(run: Callable[[], Any], warmup: int, repeats: int,
                  min_sample_ms: float) -> Measurement:
    """Median milliseconds per call of ``run`` over ``repeats`` timed samples."""
    for _ in range(warmup):
        run()
    calls = 1
    while True:  # autorange: how many calls make one sample long enough
        start = time.perf_counter()
        for _ in range(calls):
            run()
        elapsed_ms = (time.perf_counter() - start) * 1e3
        if elapsed_ms >= min_sample_ms or calls >= 1 << 16:
            break
        calls *= 2
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        samples.append((time.perf_counter() - start) * 1e3 / calls)
    q1, median, q3 = np.percentile(samples, [25, 50, 75])
    return Measurement(float(median), float(q3 - q1), repeats)


class LatencyMeasure(Measure):
    """Milliseconds per forward pass of a batch of ``batch_size`` on this CPU."""

    name, unit, direction = "latency", "ms", "minimize"

    def __init__(self, backend: str = "torch", batch_size: int = 1, threads: int = 1,
                 warmup: int = 10, repeats: int = 25, min_sample_ms: float = 5.0) -> None:
        if backend not in BACKENDS:
            raise InvalidConfigError(
                f"unknown latency backend {backend!r}; choose one of {list(BACKENDS)}"
            )
        if batch_size < 1 or threads < 1 or repeats < 3 or warmup < 0:
            raise InvalidConfigError(
                "latency needs batch_size >= 1, threads >= 1, repeats >= 3 and warmup >= 0; "
                f"got batch_size={batch_size}, threads={threads}, repeats={repeats}, "
                f"warmup={warmup}"
            )
        self.backend, self.batch_size, self.threads = backend, batch_size, threads
        self.warmup, self.repeats, self.min_sample_ms = warmup, repeats, min_sample_ms

    def settings(self) -> dict[str, Any]:
        return {"backend": self.backend, "batch_size": self.batch_size, "threads": self.threads,
                "warmup": self.warmup, "repeats": self.repeats,
                "min_sample_ms": self.min_sample_ms}

    @property
    def consumes(self) -> str:
        return "onnx" if self.backend == "onnxruntime" else "module"

    def __call__(self, artifact: Any, context: MeasureContext) -> Measurement:
        batch = io.batch_of(context.example_inputs, self.batch_size)
        if self.backend == "onnxruntime":
            if isinstance(artifact, nn.Module):  # called directly on a module: export it
                artifact = export_onnx(artifact, context.example_inputs)
            session = onnx_session(artifact, self.threads)
            feed = onnx_feed(batch)
            return time_callable(lambda: session.run(None, feed), self.warmup, self.repeats,
                                 self.min_sample_ms)
        model: nn.Module = artifact.eval()
        with torch_threads(self.threads), torch.inference_mode():
            return time_callable(lambda: io.forward(model, batch), self.warmup, self.repeats,
                                 self.min_sample_ms)

"""The thread budget: how many threads every stage of an evaluation may use.

On a machine that does other work, a library's default thread count (torch: one per core)
oversubscribes the cores, and a busy machine then slows a search far more than its fair
share. Every stage of an evaluation (batch-norm recalibration, accuracy, latency, export)
therefore runs under :func:`thread_budget`, which sets torch's intra-op threads for the
block and is what ONNX Runtime sessions made inside it read (:func:`ort_session_options`).
The default budget is one thread.

>>> import torch
>>> with thread_budget(2):
...     torch.get_num_threads(), current_threads(), ort_session_options().intra_op_num_threads
(2, 2, 2)
>>> current_threads()
1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from hwnas.errors import InvalidConfigError, require

DEFAULT_THREADS = 1
CPU_PROVIDER = "CPUExecutionProvider"
_BUDGET: ContextVar[int] = ContextVar("hwnas_thread_budget", default=DEFAULT_THREADS)


def check_threads(threads: Any, what: str = "the thread budget") -> int:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidConfigError(f"{what} must be a whole number of threads >= 1, got "
                                 f"{threads!r}")
    return threads


def current_threads() -> int:
    """The thread count of the innermost :func:`thread_budget` (default 1)."""
    return _BUDGET.get()


@contextmanager
def thread_budget(threads: int) -> Iterator[int]:
    """Run the block with ``threads`` torch intra-op threads (ONNX Runtime sessions made
    inside get as many); the previous setting is restored afterwards."""
    import torch

    check_threads(threads)
    previous = torch.get_num_threads()
    token = _BUDGET.set(threads)
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)
        _BUDGET.reset(token)


def ort_session_options(threads: int | None = None) -> Any:
    """ONNX Runtime session options with ``threads`` intra-op threads (default: the current
    budget) and one inter-op thread."""
    ort = require("onnxruntime", "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = check_threads(threads) if threads is not None \
        else current_threads()
    options.inter_op_num_threads = 1
    return options


def ort_session(onnx_bytes: bytes, threads: int | None = None,
                provider: str = CPU_PROVIDER) -> Any:
    """An ONNX Runtime session over ``onnx_bytes`` on execution ``provider`` with
    ``threads`` intra-op threads (default: the current budget)."""
    ort = require("onnxruntime", "onnx")
    available = ort.get_available_providers()
    if provider not in available:
        raise InvalidConfigError(f"ONNX Runtime execution provider {provider!r} is not "
                                 f"available here; available: {available}")
    return ort.InferenceSession(onnx_bytes, ort_session_options(threads), providers=[provider])


__all__ = ["CPU_PROVIDER", "DEFAULT_THREADS", "check_threads", "current_threads",
           "ort_session", "ort_session_options", "thread_budget"]

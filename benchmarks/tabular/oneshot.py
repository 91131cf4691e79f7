"""Train a one-shot super-network with fair single-path sampling, then measure every
sub-network of its space in resumable chunks (benchmark only; used by
``build_oneshot_table.py``).

Fair single-path sampling (FairNAS's *strict fairness*, a SPOS variant suited to unordered
choices, where the sandwich rule's "largest" and "smallest" mean nothing): every step
draws ``k`` single paths, ``k`` the largest number of values of any dimension, so that
along every dimension each value is used equally often in the step (exactly once for a
dimension of ``k`` values), trains each path on the labels and sums their gradients into
one SGD step. So every operation of every edge gets the same number of updates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnas.data import DataSplits, iterate_batches
from hwnas.measure.accuracy import evaluate_accuracy, recalibrate_batchnorm
from hwnas.measure.counting import count_macs, count_params
from hwnas.measure.latency import torch_threads
from hwnas.space import Config, SearchSpace


def fair_paths(space: SearchSpace, rng: np.random.Generator) -> list[Config]:
    """``k`` configs (``k`` = the largest dimension's number of values) in which every
    dimension's values each appear ``floor(k/n)`` or ``ceil(k/n)`` times, in random order."""
    k = int(space.cardinalities.max())
    columns = []
    for dim in space.dims:
        n = len(dim.values)
        picks = np.concatenate([rng.permutation(n) for _ in range(math.ceil(k / n))])[:k]
        columns.append(picks)
    return [{dim.name: dim.values[int(column[path])] for dim, column in zip(space.dims, columns)}
            for path in range(k)]


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-5
    label_smoothing: float = 0.1
    seed: int = 0


def calibration_batches(data: DataSplits, count: int = 1, size: int = 256,
                        seed: int = 0) -> list[torch.Tensor]:
    """Fixed training batches for batch-norm recalibration (as hwnas's accuracy measure:
    a seeded permutation of the training split, ``count`` batches of ``size``)."""
    order = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(seed))
    return [data.train_x[order[i * size:(i + 1) * size]] for i in range(count)]


def _rows(count: int, keep: int | None, seed: int) -> torch.Tensor:
    if keep is None or keep >= count:
        return torch.arange(count)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return torch.sort(order[:keep]).values


def subset(data: DataSplits, val_samples: int | None, test_samples: int | None,
           seed: int = 0) -> DataSplits:
    """``data`` with its validation and test splits cut to that many samples, fixed by
    ``seed`` (``None``: the whole split)."""
    val = _rows(len(data.val_y), val_samples, seed)
    test = _rows(len(data.test_y), test_samples, seed)
    return dataclasses.replace(data, val_x=data.val_x[val], val_y=data.val_y[val],
                               test_x=data.test_x[test], test_y=data.test_y[test])


def subnet_accuracy(model: nn.Module, data: DataSplits,
                    calibration: Sequence[torch.Tensor]) -> tuple[float, float]:
    """Validation and test accuracy of ``model`` after recalibrating its batch norm."""
    recalibrate_batchnorm(model, calibration)
    model.eval()
    return (evaluate_accuracy(model, data.val_x, data.val_y, batch_size=1024),
            evaluate_accuracy(model, data.test_x, data.test_y, batch_size=1024))


def train_fair(supernet: nn.Module, data: DataSplits, settings: TrainSettings,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train ``supernet`` (with ``space``, ``activate``, ``extract``) in place; returns the
    training report. SGD with Nesterov momentum 0.9, cosine decay from ``lr`` to 0, weight
    decay on weights only, label smoothing; the last incomplete batch of an epoch dropped."""
    space: SearchSpace = supernet.space
    rng = np.random.default_rng(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    decay = [p for p in supernet.parameters() if p.ndim > 1]
    no_decay = [p for p in supernet.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": settings.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=settings.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = len(data.train_y) // settings.batch_size
    total = settings.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
    started = time.perf_counter()
    supernet.train()
    losses: list[float] = []
    paths = 0
    for epoch in range(settings.epochs):
        epoch_loss, epoch_paths = 0.0, 0
        for xb, yb in iterate_batches(data.train_x, data.train_y, settings.batch_size,
                                      shuffle=True, generator=generator, drop_last=True):
            optimizer.zero_grad(set_to_none=True)
            for config in fair_paths(space, rng):
                supernet.activate(config)
                loss = F.cross_entropy(supernet(xb), yb, label_smoothing=settings.label_smoothing)
                loss.backward()
                epoch_loss += float(loss.detach())
                epoch_paths += 1
            optimizer.step()
            scheduler.step()
        paths += epoch_paths
        losses.append(epoch_loss / epoch_paths)
        log(f"  epoch {epoch + 1}/{settings.epochs}: mean path loss {losses[-1]:.4f} "
            f"({time.perf_counter() - started:.0f} s)")
    seconds = time.perf_counter() - started
    supernet.eval()
    calibration = calibration_batches(data, seed=settings.seed)
    probe_rng = np.random.default_rng(settings.seed + 1)
    probes = [space.sample(probe_rng) for _ in range(16)]
    accuracies = np.array([subnet_accuracy(supernet.extract(c), data, calibration)
                           for c in probes])
    return {"method": "fair single-path sampling (FairNAS strict fairness, SPOS-style)",
            "settings": settings.__dict__, "steps": total, "paths_trained": paths,
            "seconds": round(seconds, 1), "epoch_losses": [round(x, 4) for x in losses],
            "probe_val_accuracy": {"configs": 16, "seed": settings.seed + 1,
                                   "min": float(accuracies[:, 0].min()),
                                   "median": float(np.median(accuracies[:, 0])),
                                   "max": float(accuracies[:, 0].max())},
            "probe_test_accuracy_median": float(np.median(accuracies[:, 1]))}


@dataclass(frozen=True)
class LatencySettings:
    """Latency of a forward pass on one thread, made robust to a shared machine.

    ``repeats`` timed samples, each of enough calls to last at least ``min_sample_ms``
    (found by doubling, as :func:`hwnas.measure.latency.time_callable`). A sample's time is
    the smaller of its wall-clock time and the calling thread's CPU time (one torch thread:
    all the work is on that thread): wall time counts the moments another job held the
    core, CPU time does not, while CPU time may count a virtual machine's stolen time, which
    wall time does not beat. The figure is the fastest sample, since load only ever slows a
    sample down; the spread is the samples' IQR. (The live measure reports the median of
    wall-clock samples: on an idle machine the two agree within timer noise; under a load
    of 4-12 on two cores, as during these builds, the median moved by up to 20x.)
    """

    warmup: int = 1
    repeats: int = 5
    min_sample_ms: float = 0.5
    threads: int = 1

    @classmethod
    def recorded(cls, measure: dict[str, Any]) -> LatencySettings:
        """The settings a table's metadata records for one latency column
        (``metadata["measures"][column]``)."""
        return cls(**{field.name: measure[field.name] for field in dataclasses.fields(cls)})

    def measure(self, model: nn.Module, batch: torch.Tensor) -> tuple[float, float]:
        """``(fastest ms per call, IQR ms)`` of forward passes of ``batch``."""
        model.eval()
        with torch_threads(self.threads), torch.inference_mode():
            for _ in range(self.warmup):
                model(batch)
            calls = 1
            while True:
                elapsed_ms = _time_calls(model, batch, calls)
                if elapsed_ms >= self.min_sample_ms or calls >= 1 << 12:
                    break
                calls *= 2
            samples = [_time_calls(model, batch, calls) / calls for _ in range(self.repeats)]
        q1, q3 = np.percentile(samples, [25, 75])
        return float(min(samples)), float(q3 - q1)


def example_input(input_shape: Sequence[int], seed: int) -> torch.Tensor:
    """The one seeded sample (batch of 1) that the tables' latency and MACs are measured on."""
    return torch.randn((1, *input_shape), generator=torch.Generator().manual_seed(seed))


def repeated(example: torch.Tensor, batch_size: int) -> torch.Tensor:
    """A batch of ``batch_size`` copies of ``example`` (contiguous, as a real batch)."""
    return example.expand(batch_size, *example.shape[1:]).contiguous()


def _time_calls(model: nn.Module, batch: torch.Tensor, calls: int) -> float:
    """Milliseconds for ``calls`` forward passes: the smaller of wall and thread CPU time."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(calls):
        model(batch)
    return min(time.perf_counter() - wall, time.thread_time() - cpu) * 1e3


class RowMeasurer:
    """Measures rows of encoded configs: validation accuracy (on ``val_samples`` of the
    split, default all) and test accuracy (``test_samples``), latency at each batch size,
    MACs and params.

    Configs that extract the same network (same ``network_key``; ``None`` for every config
    a network of its own) are measured once and share every figure: the result is cached in
    memory and, with ``cache_dir``, in files that every process of the build shares.
    """

    def __init__(self, supernet: nn.Module, data: DataSplits, metrics: Sequence[str],
                 latency_batches: dict[str, int], latency: LatencySettings,
                 network_key: Callable[[Config], Any], seed: int,
                 cache_dir: Path | None = None, val_samples: int | None = None,
                 test_samples: int | None = None) -> None:
        self.supernet, self.metrics = supernet, list(metrics)
        self.latency_batches, self.latency = latency_batches, latency
        self.network_key = network_key
        self.calibration = calibration_batches(data, seed=seed)
        self.data = subset(data, val_samples, test_samples, seed)
        self.example = example_input(supernet.input_shape, seed)
        self.batches = {name: repeated(self.example, size)
                        for name, size in latency_batches.items()}
        self.cache: dict[Any, tuple[list[float], list[float]]] = {}
        self.cache_hits = 0
        self.cache_dir = cache_dir
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)

    def measure_network(self, config: Config) -> tuple[list[float], list[float]]:
        """Every metric of ``config``'s network (values, spreads), in ``metrics`` order."""
        model = self.supernet.extract(config).eval()
        accuracy, test_accuracy = subnet_accuracy(model, self.data, self.calibration)
        values = {"accuracy": accuracy, "test_accuracy": test_accuracy,
                  "macs": count_macs(model, self.example), "params": count_params(model)}
        spreads = dict.fromkeys(values, 0.0)
        for name, batch in self.batches.items():
            values[name], spreads[name] = self.latency.measure(model, batch)
        return ([float(values[m]) for m in self.metrics],
                [float(spreads[m]) for m in self.metrics])

    def _cached(self, config: Config) -> tuple[list[float], list[float]]:
        key = self.network_key(config)
        if key is None:
            return self.measure_network(config)
        if key in self.cache:
            self.cache_hits += 1
            return self.cache[key]
        path = None
        if self.cache_dir is not None:
            digest = hashlib.sha1(repr(key).encode()).hexdigest()[:20]
            path = self.cache_dir / f"{digest}.json"
            if path.is_file():
                self.cache_hits += 1
                self.cache[key] = tuple(json.loads(path.read_text()))
                return self.cache[key]
        self.cache[key] = self.measure_network(config)
        if path is not None:
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(list(self.cache[key])))
            os.replace(temporary, path)
        return self.cache[key]

    def __call__(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.full((len(encoded), len(self.metrics)), np.nan)
        spreads = np.zeros_like(values)
        for row, vector in enumerate(encoded):
            values[row], spreads[row] = self._cached(self.supernet.space.decode(vector))
        return values, spreads


class ChunkStore:
    """Chunks of measured rows as ``.npz`` files in ``folder`` (written atomically), so an
    interrupted build resumes where it stopped. A process claims a chunk before measuring
    it (a claim file made with ``O_EXCL`` holding its pid), so several processes can share
    one build and join it at any time; a claim whose process is gone is taken over."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, chunk: int) -> Path:
        return self.folder / f"chunk_{chunk:05d}.npz"

    def done(self, chunk: int) -> bool:
        return self.path(chunk).is_file()

    def claim(self, chunk: int) -> bool:
        """Whether this process may measure ``chunk`` (unmeasured, and not claimed by a
        live process); if so, it is now claimed."""
        if self.done(chunk):
            return False
        claim = self.folder / f"chunk_{chunk:05d}.claim"
        for _attempt in range(2):
            try:
                handle = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    owner = int(claim.read_text() or "0")
                except (OSError, ValueError):
                    return False
                if owner == os.getpid() or not _alive(owner):
                    claim.unlink(missing_ok=True)  # a crashed or earlier run of ours
                    continue
                return False
            os.write(handle, str(os.getpid()).encode())
            os.close(handle)
            return not self.done(chunk)
        return False

    def write(self, chunk: int, rows: np.ndarray, values: np.ndarray, spreads: np.ndarray,
              info: dict[str, Any]) -> None:
        temporary = self.folder / f".chunk_{chunk:05d}.tmp.npz"
        np.savez(temporary, rows=rows, values=values, spreads=spreads,
                 info=np.array(json.dumps(info)))
        os.replace(temporary, self.path(chunk))
        (self.folder / f"chunk_{chunk:05d}.claim").unlink(missing_ok=True)

    def read_all(self, chunks: int, rows: int, metrics: int) -> tuple[
            np.ndarray, np.ndarray, list[dict[str, Any]]]:
        values = np.full((rows, metrics), np.nan)
        spreads = np.full((rows, metrics), np.nan)
        infos = []
        for chunk in range(chunks):
            with np.load(self.path(chunk)) as archive:
                index = archive["rows"]
                values[index], spreads[index] = archive["values"], archive["spreads"]
                infos.append(json.loads(str(archive["info"])))
        return values, spreads, infos


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None

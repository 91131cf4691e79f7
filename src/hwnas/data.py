"""Small built-in data sets, split into train / validation / test, by registry name.

Every data set is built offline (nothing is downloaded or written to disk) and split
deterministically by ``seed``: the same name and seed give the same tensors.

>>> splits = load_dataset("digits", seed=0)
>>> splits.input_shape, splits.num_classes
((1, 8, 8), 10)
>>> len(splits.train_y), len(splits.val_y), len(splits.test_y)
(1078, 360, 359)
>>> xb, yb = next(iterate_batches(splits.train_x, splits.train_y, 32, shuffle=False))
>>> tuple(xb.shape), yb.dtype
((32, 1, 8, 8), torch.int64)
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hwnas.errors import InvalidConfigError
from hwnas.registry import Registry


@dataclass(frozen=True)
class DataSplits:
    """A data set split three ways: inputs are float32 ``(N, *input_shape)``, labels int64."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    input_shape: tuple[int, ...]

    def __repr__(self) -> str:
        return (f"DataSplits({self.name!r}, train={len(self.train_y)}, val={len(self.val_y)}, "
                f"test={len(self.test_y)}, num_classes={self.num_classes}, "
                f"input_shape={self.input_shape})")


DATASETS: Registry[DataSplits] = Registry("dataset")


def load_dataset(name: str, seed: int = 0, options: dict[str, Any] | None = None) -> DataSplits:
    """The registered data set ``name``, split by ``seed``; ``options`` are its factory's
    arguments (e.g. ``{"num_samples": 4000}`` for ``"mnist1d"``)."""
    return DATASETS.create(name, seed=seed, **(options or {}))


def iterate_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool,
                    generator: torch.Generator | None = None,
                    drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches ``(xb, yb)`` over ``x, y``; shuffled with ``generator`` when ``shuffle``.

    The last, smaller batch is kept unless ``drop_last`` (or it would be the only one).
    """
    if batch_size < 1:
        raise InvalidConfigError(f"batch_size must be a positive integer, got {batch_size}")
    if len(x) != len(y):
        raise InvalidConfigError(
            f"inputs and labels differ in length ({len(x)} vs {len(y)}); pass matching tensors"
        )
    count = len(y)
    order = torch.randperm(count, generator=generator) if shuffle else torch.arange(count)
    stop = count - count % batch_size if drop_last and count >= batch_size else count
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size]
        yield x[index], y[index]


def _split_indices(labels: np.ndarray, fractions: tuple[float, ...],
                   seed: int) -> list[np.ndarray]:
    """Stratified split of ``range(len(labels))`` into parts of the given ``fractions``."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    bounds = np.cumsum(fractions)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cuts = np.round(bounds * len(members)).astype(int)
        for part, (start, stop) in enumerate(zip(np.r_[0, cuts[:-1]], cuts)):
            parts[part].append(members[start:stop])
    return [np.sort(np.concatenate(p)) for p in parts]


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(np.array(x, dtype=np.float32, copy=True)),
            torch.from_numpy(np.array(y, dtype=np.int64, copy=True)))


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise InvalidConfigError(f"{name} must lie strictly between 0 and 1, got {value}")


@DATASETS.register("digits")
def digits(seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2) -> DataSplits:
    """scikit-learn's 1797 handwritten digits, 1x8x8 in [0, 1], stratified split by ``seed``."""
    from sklearn.datasets import load_digits

    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise InvalidConfigError(
            f"val_fraction + test_fraction must be below 1, got {val_fraction + test_fraction}"
        )
    bunch = load_digits()
    images = bunch.images.reshape(-1, 1, 8, 8) / 16.0
    labels = bunch.target
    fractions = (1.0 - val_fraction - test_fraction, val_fraction, test_fraction)
    train, val, test = _split_indices(labels, fractions, seed)
    return DataSplits("digits", *_tensors(images[train], labels[train]),
                      *_tensors(images[val], labels[val]), *_tensors(images[test], labels[test]),
                      num_classes=10, input_shape=(1, 8, 8))


@functools.lru_cache(maxsize=4)
def _generate_mnist1d(num_samples: int, generation_seed: int) -> dict[str, np.ndarray]:
    """mnist1d's generator, run in memory; global random states are left as they were."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, generation_seed
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        generated = make_dataset(args)  # seeds the global generators; writes no file
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return {key: generated[key] for key in ("x", "y", "x_test", "y_test")}


@DATASETS.register("mnist1d")
def mnist1d(seed: int = 0, num_samples: int = 10000, val_fraction: float = 0.2,
            generation_seed: int = 42) -> DataSplits:
    """MNIST-1D signals (1x40), generated offline; mnist1d keeps its last 20% as the test
    set, and ``seed`` splits the rest into train and validation (stratified).

    ``generation_seed`` (mnist1d's own default, 42) fixes the generated samples, so every
    ``seed`` shares one test set.
    """
    if num_samples < 100:
        raise InvalidConfigError(f"mnist1d needs num_samples >= 100, got {num_samples}")
    _check_fraction("val_fraction", val_fraction)
    generated = _generate_mnist1d(int(num_samples), int(generation_seed))
    x, y = generated["x"][:, None, :], generated["y"]
    train, val = _split_indices(y, (1.0 - val_fraction, val_fraction), seed)
    return DataSplits("mnist1d", *_tensors(x[train], y[train]), *_tensors(x[val], y[val]),
                      *_tensors(generated["x_test"][:, None, :], generated["y_test"]),
                      num_classes=10, input_shape=(1, int(x.shape[-1])))


__all__ = ["DATASETS", "DataSplits", "iterate_batches", "load_dataset"]

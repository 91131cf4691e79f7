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
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

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

    @classmethod
    def from_arrays(cls, train: tuple[ArrayLike, ArrayLike], val: tuple[ArrayLike, ArrayLike],
                    test: tuple[ArrayLike, ArrayLike] | None = None, *, name: str = "user",
                    num_classes: int | None = None) -> DataSplits:
        """The user's own data: each split an ``(inputs, labels)`` pair of numpy arrays or
        tensors, inputs ``(N, *input_shape)`` (floats, or integers such as token ids),
        labels ``(N,)`` class indices. ``test`` may be left out (then it is empty);
        ``num_classes`` defaults to the largest label + 1.

        >>> x, y = np.zeros((6, 2, 3)), np.array([0, 1, 2, 0, 1, 2])
        >>> DataSplits.from_arrays((x, y), (x[:3], y[:3]))
        DataSplits('user', train=6, val=3, test=0, num_classes=3, input_shape=(2, 3))
        """
        parts = {"train": train, "val": val}
        if test is not None:
            parts["test"] = test
        tensors = {split: _user_tensors(split, pair) for split, pair in parts.items()}
        shapes = {split: tuple(x.shape[1:]) for split, (x, _) in tensors.items()}
        if len(set(shapes.values())) != 1:
            raise InvalidConfigError(
                f"the splits' inputs differ in shape (one sample each): {shapes}; give every "
                "split inputs of the same shape"
            )
        shape = shapes["train"]
        if "test" not in tensors:
            x, y = tensors["train"]
            tensors["test"] = (x[:0], y[:0])
        largest = max(int(y.max()) for _, y in tensors.values() if len(y))
        if num_classes is None:
            num_classes = largest + 1
        elif largest >= num_classes:
            raise InvalidConfigError(
                f"a label is {largest} but num_classes is {num_classes}; labels must be class "
                "indices 0..num_classes-1"
            )
        return cls(name, *tensors["train"], *tensors["val"], *tensors["test"],
                   num_classes=int(num_classes), input_shape=shape)

    def fingerprint(self) -> str:
        """sha256 of every array (dtype, shape and bytes): the identity of the data a study
        measured on, so that a resume with other data is refused."""
        digest = hashlib.sha256()
        for field_name in ARRAY_NAMES:
            tensor = getattr(self, field_name).contiguous()
            digest.update(f"{field_name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
            digest.update(tensor.numpy().tobytes())
        return digest.hexdigest()


ARRAY_NAMES = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
"""The arrays of a data file (``--data FILE.npz``); ``test_x``/``test_y`` are optional."""


def _user_tensors(split: str, pair: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise InvalidConfigError(
            f"the {split} split must be an (inputs, labels) pair, got {type(pair).__name__}"
        )
    x, y = (value.detach().cpu().numpy() if isinstance(value, torch.Tensor)
            else np.asarray(value) for value in pair)
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
        raise InvalidConfigError(
            f"the {split} split needs inputs of shape (N, ...) and labels of shape (N,), N >= 1; "
            f"got inputs {x.shape} and labels {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise InvalidConfigError(f"the {split} labels must be class indices (integers), "
                                 f"got dtype {y.dtype}")
    if np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.integer) \
            and not np.all(np.isfinite(x)):
        raise InvalidConfigError(f"the {split} inputs hold NaN or infinite values")
    if y.min() < 0:
        raise InvalidConfigError(f"the {split} labels must be >= 0, got {int(y.min())}")
    x_dtype = np.int64 if np.issubdtype(x.dtype, np.integer) else np.float32
    return (torch.from_numpy(np.array(x, dtype=x_dtype, copy=True)),
            torch.from_numpy(np.array(y, dtype=np.int64, copy=True)))


def load_npz(path: str | Path, *, name: str | None = None) -> DataSplits:
    """The user's data from a ``.npz`` file holding ``train_x, train_y, val_x, val_y`` and
    optionally ``test_x, test_y`` (and a scalar ``num_classes``); see
    :meth:`DataSplits.from_arrays` for the shapes."""
    path = Path(path)
    if not path.is_file():
        raise InvalidConfigError(f"data file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise InvalidConfigError(
            f"{str(path)!r} is not a readable .npz file ({error}); write it with "
            "numpy.savez(path, train_x=..., train_y=..., val_x=..., val_y=...)"
        ) from None
    missing = [key for key in ARRAY_NAMES[:4] if key not in arrays]
    if missing:
        raise InvalidConfigError(
            f"data file {str(path)!r} lacks {missing} (it holds {sorted(arrays)}); it needs "
            f"train_x, train_y, val_x, val_y and optionally test_x, test_y"
        )
    test = (arrays["test_x"], arrays["test_y"]) if "test_x" in arrays else None
    num_classes = int(arrays["num_classes"]) if "num_classes" in arrays else None
    return DataSplits.from_arrays((arrays["train_x"], arrays["train_y"]),
                                  (arrays["val_x"], arrays["val_y"]), test,
                                  name=name or path.stem, num_classes=num_classes)


def as_data_splits(data: Any) -> DataSplits:
    """``data`` as :class:`DataSplits`: already one; a ``.npz`` path; a dict with the
    :data:`ARRAY_NAMES` arrays (or ``train``/``val``/``test`` pairs); a ``(train, val[,
    test])`` sequence of ``(inputs, labels)`` pairs."""
    if isinstance(data, DataSplits):
        return data
    if isinstance(data, (str, Path)):
        return load_npz(data)
    if isinstance(data, (tuple, list)) and len(data) in (2, 3) and all(
            isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in data):
        return DataSplits.from_arrays(*data)
    if isinstance(data, dict):
        if "train" in data:
            unknown = sorted(set(data) - {"train", "val", "test"})
            if unknown:
                raise InvalidConfigError(f"unknown data keys {unknown}; use train, val, test")
            if "val" not in data:
                raise InvalidConfigError("data needs a 'val' split to measure accuracy on")
            return DataSplits.from_arrays(data["train"], data["val"], data.get("test"))
        unknown = sorted(set(data) - set(ARRAY_NAMES) - {"num_classes"})
        missing = [key for key in ARRAY_NAMES[:4] if key not in data]
        if unknown or missing:
            raise InvalidConfigError(
                f"data dict: unknown keys {unknown}, missing {missing}; give "
                f"{', '.join(ARRAY_NAMES)} (test_x/test_y optional)"
            )
        test = (data["test_x"], data["test_y"]) if "test_x" in data else None
        return DataSplits.from_arrays((data["train_x"], data["train_y"]),
                                      (data["val_x"], data["val_y"]), test,
                                      num_classes=data.get("num_classes"))
    raise InvalidConfigError(
        f"data must be DataSplits, a .npz path or a dict of arrays, got {type(data).__name__}"
    )


def check_input_shape(supernet: Any, data: DataSplits) -> None:
    """Refuse data whose samples do not fit the super-network, naming both shapes."""
    from hwnas.supernets.io import example_inputs, input_shape

    expected = input_shape(supernet)
    if expected is None:
        example = example_inputs(supernet, 1)
        if not isinstance(example, torch.Tensor):
            return  # tuple or dict inputs: the super-network's own data pipeline decides
        expected = tuple(example.shape[1:])
    if tuple(expected) != tuple(data.input_shape):
        raise InvalidConfigError(
            f"the super-network takes samples of shape {tuple(expected)} but data "
            f"{data.name!r} has samples of shape {tuple(data.input_shape)}; use data that fits "
            "the super-network, or build the super-network for this data"
        )


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


__all__ = ["ARRAY_NAMES", "DATASETS", "DataSplits", "as_data_splits", "check_input_shape",
           "iterate_batches", "load_dataset", "load_npz"]

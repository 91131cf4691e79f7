"""This package's own data: three classes of 12-feature points, seeded, written as .npz.

>>> arrays = make_arrays(seed=0)
>>> arrays["train_x"].shape, arrays["val_x"].shape, arrays["test_x"].shape
((600, 12), (200, 12), (200, 12))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES, CLASSES = 12, 3


def make_arrays(seed: int = 0, n: int = 1000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(CLASSES, FEATURES))
    y = rng.integers(CLASSES, size=n)
    x = centres[y] + rng.normal(0.0, 1.2, size=(n, FEATURES))
    x[:, :3] = np.tanh(x[:, :3] * x[:, 3:6])  # a non-linear part
    x, y = x.astype(np.float32), y.astype(np.int64)
    train, val = slice(0, int(0.6 * n)), slice(int(0.6 * n), int(0.8 * n))
    test = slice(int(0.8 * n), n)
    return {"train_x": x[train], "train_y": y[train], "val_x": x[val], "val_y": y[val],
            "test_x": x[test], "test_y": y[test]}


def write_npz(path: str | Path, seed: int = 0) -> Path:
    path = Path(path)
    np.savez(path, **make_arrays(seed))
    return path

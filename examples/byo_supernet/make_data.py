"""The user's own data: noisy sensor signals of four kinds, written as an .npz file with
``train_x, train_y, val_x, val_y, test_x, test_y`` (inputs ``(N, 1, 64)`` float32, labels
int64), the format ``hwnas ... --data FILE.npz`` reads.

    python make_data.py data.npz [--samples 1200] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

LENGTH = 64


def make_arrays(samples: int = 1200, seed: int = 0) -> dict[str, np.ndarray]:
    """Four classes: a slow sine, a fast sine, a square wave, a rising chirp; random
    amplitude, phase and noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, LENGTH)
    y = rng.integers(4, size=samples)
    phase = rng.uniform(0, 2 * np.pi, size=(samples, 1))
    amplitude = rng.uniform(0.5, 1.5, size=(samples, 1))
    frequency = np.where(y[:, None] == 0, 3.0, 7.0) * rng.uniform(0.8, 1.2, (samples, 1))
    waves = np.sin(2 * np.pi * frequency * t + phase)
    waves[y == 2] = np.sign(waves[y == 2])
    chirp = np.sin(2 * np.pi * (2.0 + 6.0 * t) * t + phase)
    waves[y == 3] = chirp[y == 3]
    x = amplitude * waves + rng.normal(0.0, 0.6, size=(samples, LENGTH))
    x = x[:, None, :].astype(np.float32)
    y = y.astype(np.int64)
    cut = [int(0.6 * samples), int(0.8 * samples)]
    return {"train_x": x[:cut[0]], "train_y": y[:cut[0]],
            "val_x": x[cut[0]:cut[1]], "val_y": y[cut[0]:cut[1]],
            "test_x": x[cut[1]:], "test_y": y[cut[1]:]}


def write_npz(path: str | Path, samples: int = 1200, seed: int = 0) -> Path:
    path = Path(path)
    np.savez(path, **make_arrays(samples, seed))
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote {write_npz(args.out, args.samples, args.seed)}")

"""Built-in data sets: shapes, deterministic stratified splits, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.data import DATASETS, _split_indices, iterate_batches, load_dataset
from hwnas.errors import HwnasError, InvalidConfigError, UnknownNameError


def test_registry_lists_the_built_in_data_sets():
    assert {"digits", "mnist1d"} <= set(DATASETS.names())


def test_digits_shapes_dtypes_and_range():
    splits = load_dataset("digits", seed=0)
    assert splits.input_shape == (1, 8, 8) and splits.num_classes == 10
    total = len(splits.train_y) + len(splits.val_y) + len(splits.test_y)
    assert total == 1797
    for x, y in [(splits.train_x, splits.train_y), (splits.val_x, splits.val_y),
                 (splits.test_x, splits.test_y)]:
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert tuple(x.shape[1:]) == (1, 8, 8) and len(x) == len(y)
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert set(y.tolist()) == set(range(10))  # stratified: every class in every split
    assert abs(len(splits.train_y) / total - 0.6) < 0.01


def test_split_indices_are_disjoint_cover_everything_and_are_stratified():
    labels = np.repeat(np.arange(5), [10, 20, 30, 40, 50])
    parts = _split_indices(labels, (0.6, 0.2, 0.2), seed=3)
    joined = np.concatenate(parts)
    assert len(joined) == len(labels) == len(np.unique(joined))
    for label, count in zip(range(5), [10, 20, 30, 40, 50]):
        assert (labels[parts[1]] == label).sum() == round(0.2 * count)


def test_splits_are_deterministic_by_seed():
    first, again, other = (load_dataset("digits", seed=s) for s in (0, 0, 1))
    assert torch.equal(first.train_x, again.train_x)
    assert torch.equal(first.test_y, again.test_y)
    assert not torch.equal(first.test_x, other.test_x)


def test_unknown_data_set_names_the_close_match():
    with pytest.raises(UnknownNameError, match="did you mean 'digits'"):
        load_dataset("digitz")


def test_bad_options_raise_actionable_errors():
    with pytest.raises(InvalidConfigError, match="val_fraction"):
        load_dataset("digits", options={"val_fraction": 1.5})
    with pytest.raises(HwnasError, match="unexpected keyword argument 'num_sample'"):
        load_dataset("mnist1d", options={"num_sample": 500})


def test_mnist1d_is_generated_in_memory_without_side_effects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    splits = load_dataset("mnist1d", seed=0, options={"num_samples": 500})
    assert np.random.random() == expected_next  # global numpy state untouched
    assert list(tmp_path.iterdir()) == []  # no pickle cache written
    assert splits.input_shape == (1, 40) and splits.train_x.dtype == torch.float32
    assert len(splits.train_y) + len(splits.val_y) == 400 and len(splits.test_y) == 100
    again = load_dataset("mnist1d", seed=0, options={"num_samples": 500})
    other = load_dataset("mnist1d", seed=1, options={"num_samples": 500})
    assert torch.equal(splits.val_x, again.val_x)
    assert torch.equal(splits.test_x, other.test_x)  # the seed only splits train / val
    assert not torch.equal(splits.val_x, other.val_x)


def test_iterate_batches_covers_every_sample_once():
    x, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    batches = list(iterate_batches(x, y, 4, shuffle=True, generator=torch.Generator()))
    assert [len(b) for b, _ in batches] == [4, 4, 2]
    assert sorted(torch.cat([b for _, b in batches]).tolist()) == list(range(10))
    for xb, yb in batches:
        assert torch.equal(xb[:, 0].long(), yb)


def test_iterate_batches_is_deterministic_and_can_drop_the_last_batch():
    x, y = torch.zeros(10, 1), torch.arange(10)

    def orders(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        return torch.cat([b for _, b in iterate_batches(x, y, 3, True, generator)]).tolist()

    assert orders(0) == orders(0) != orders(1)
    dropped = list(iterate_batches(x, y, 3, shuffle=False, drop_last=True))
    assert [len(b) for _, b in dropped] == [3, 3, 3]
    assert len(list(iterate_batches(x, y, 32, shuffle=False, drop_last=True))) == 1
    with pytest.raises(InvalidConfigError, match="batch_size"):
        list(iterate_batches(x, y, 0, shuffle=False))

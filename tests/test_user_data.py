"""The user's own data: arrays, tensors, dicts and .npz files become DataSplits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.data import DataSplits, as_data_splits, check_input_shape, load_dataset, load_npz
from hwnas.errors import InvalidConfigError


@pytest.fixture
def arrays(byo_path):
    from byo_elastic.data import make_arrays

    return make_arrays(seed=0)


def test_from_arrays_keeps_the_samples_and_infers_the_classes(arrays):
    splits = DataSplits.from_arrays((arrays["train_x"], arrays["train_y"]),
                                    (arrays["val_x"], arrays["val_y"]),
                                    (arrays["test_x"], arrays["test_y"]))
    assert splits.input_shape == (12,) and splits.num_classes == 3
    assert splits.train_x.dtype == torch.float32 and splits.train_y.dtype == torch.int64
    assert np.array_equal(splits.val_x.numpy(), arrays["val_x"])


def test_tensors_dicts_and_npz_files_give_the_same_splits(arrays, tmp_path):
    from byo_elastic.data import write_npz

    from_dict = as_data_splits(arrays)
    from_pairs = as_data_splits({"train": (torch.from_numpy(arrays["train_x"]),
                                           torch.from_numpy(arrays["train_y"])),
                                 "val": (arrays["val_x"], arrays["val_y"]),
                                 "test": (arrays["test_x"], arrays["test_y"])})
    from_file = load_npz(write_npz(tmp_path / "mine.npz"))
    assert from_dict.fingerprint() == from_pairs.fingerprint() == from_file.fingerprint()
    assert from_file.name == "mine"
    assert as_data_splits(from_file) is from_file


def test_the_fingerprint_changes_with_any_sample(arrays):
    before = as_data_splits(arrays).fingerprint()
    arrays["val_x"][3, 2] += 1.0
    assert as_data_splits(arrays).fingerprint() != before


def test_the_test_split_is_optional(arrays):
    splits = DataSplits.from_arrays((arrays["train_x"], arrays["train_y"]),
                                    (arrays["val_x"], arrays["val_y"]))
    assert len(splits.test_y) == 0 and splits.test_x.shape[1:] == (12,)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(val_x=a["val_x"][:, :5]), "differ in shape"),
    (lambda a: a.update(train_y=a["train_y"][:10]), "labels of shape"),
    (lambda a: a.update(train_y=a["train_y"] + 0.5), "class indices"),
    (lambda a: a.update(train_y=a["train_y"] - 1), "must be >= 0"),
    (lambda a: a["train_x"].__setitem__((0, 0), np.nan), "NaN"),
    (lambda a: a.pop("val_y"), "missing \\['val_y'\\]"),
    (lambda a: a.update(extra=a["val_y"]), "unknown keys \\['extra'\\]"),
])
def test_malformed_data_gets_one_clear_line(arrays, change, message):
    change(arrays)
    with pytest.raises(InvalidConfigError, match=message):
        as_data_splits(arrays)


def test_an_npz_file_without_the_named_arrays_says_which_are_needed(tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.zeros(4))
    with pytest.raises(InvalidConfigError, match="lacks \\['train_x'"):
        load_npz(path)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(InvalidConfigError, match="not a readable .npz"):
        load_npz(tmp_path / "junk.npz")


def test_num_classes_must_cover_the_labels(arrays):
    with pytest.raises(InvalidConfigError, match="num_classes is 2"):
        DataSplits.from_arrays((arrays["train_x"], arrays["train_y"]),
                               (arrays["val_x"], arrays["val_y"]), num_classes=2)


def test_input_shapes_are_checked_against_the_super_network(byo_path, arrays):
    from byo_elastic.mlp import make_supernet

    from hwnas.supernets import create_supernet

    mlp = make_supernet()
    check_input_shape(mlp, as_data_splits(arrays))  # fits: no error
    with pytest.raises(InvalidConfigError) as caught:
        check_input_shape(mlp, load_dataset("digits"))
    assert "(12,)" in str(caught.value) and "(1, 8, 8)" in str(caught.value)
    with pytest.raises(InvalidConfigError, match="\\(1, 8, 8\\).*\\(12,\\)"):
        check_input_shape(create_supernet("tiny_elastic_cnn"), as_data_splits(arrays))

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import InvalidConfigError
from hwnas.space import Choice, IntRange, SearchSpace
from hwnas.supernets import create_supernet


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace([
        Choice("depth", (1, 2, 3)),
        Choice("width.0", (8, 16)),
        Choice("width.1", (8, 16), active_if=("depth", 2)),
        Choice("width.2", (8, 16), active_if=("depth", 3)),
        IntRange("kernel", 3, 7, step=2),
        Choice("act", ("relu", "gelu")),
    ])


def test_size_counts_distinct_subnetworks(space):
    enumerated = list(space.enumerate())
    assert space.size() == len(enumerated) == (2 + 4 + 8) * 3 * 2
    assert len({space.arch_id(c) for c in enumerated}) == len(enumerated)


def test_size_of_builtin_cnn_matches_formula():
    space = create_supernet("elastic_cnn").space
    per_stage = sum((3 * 2) ** depth for depth in (1, 2, 3))
    assert space.size() == per_stage ** 3


def test_inactive_genes_do_not_change_the_id(space):
    a = {"depth": 1, "width.0": 8, "width.1": 8, "width.2": 16, "kernel": 3, "act": "relu"}
    b = dict(a, **{"width.1": 16, "width.2": 8})
    assert space.arch_id(a) == space.arch_id(b)
    assert space.arch_id(dict(a, depth=2)) != space.arch_id(dict(b, depth=2))


def test_encode_decode_round_trip(space):
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = space.sample(rng)
        assert space.decode(space.encode(config)) == config


def test_features_are_numeric_and_mask_inactive(space):
    a = {"depth": 1, "width.0": 8, "width.1": 16, "width.2": 16, "kernel": 5, "act": "gelu"}
    features = space.features([a])
    assert features.shape == (1, len(space))
    assert features[0].tolist() == [1, 8, 0, 0, 5, 1]


def test_sample_mutate_crossover_stay_in_space(space):
    rng = np.random.default_rng(1)
    for _ in range(100):
        a, b = space.sample(rng), space.sample(rng)
        space.validate(space.mutate(a, rng, rate=0.5))
        child = space.crossover(a, b, rng)
        space.validate(child)
        assert all(child[n] in (a[n], b[n]) for n in space.names)


def test_mutation_changes_something_at_rate_one(space):
    rng = np.random.default_rng(2)
    config = space.sample(rng)
    mutated = space.mutate(config, rng, rate=1.0)
    assert all(mutated[n] != config[n] for n in space.names)


def test_same_seed_same_samples(space):
    first = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    second = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert first == second


@pytest.mark.parametrize("config, message", [
    ({"depth": 4}, "outside the search space"),
    ({"depht": 1}, "unknown dimension"),
    ({"depth": 1}, "missing dimension"),
])
def test_invalid_configs_name_the_problem(space, config, message):
    full = {"depth": 1, "width.0": 8, "width.1": 8, "width.2": 8, "kernel": 3, "act": "relu"}
    full.pop("depth")
    bad = {**full, **config} if "depht" not in config else {**full, **config, "depth": 1}
    if message == "missing dimension":
        bad = {"depth": 1}
    with pytest.raises(InvalidConfigError, match=message):
        space.validate(bad)


def test_decode_rejects_out_of_range_index(space):
    with pytest.raises(InvalidConfigError, match="outside"):
        space.decode([5, 0, 0, 0, 0, 0])


def test_round_trip_through_dict(space):
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_bad_space_definitions_raise():
    with pytest.raises(InvalidConfigError):
        SearchSpace([Choice("a", (1, 2)), Choice("a", (3,))])
    with pytest.raises(InvalidConfigError):
        SearchSpace([Choice("a", (1, 2), active_if=("missing", 1))])
    with pytest.raises(InvalidConfigError):
        Choice("a", (1, 1))

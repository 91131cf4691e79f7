from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import InvalidConfigError
from hwnas.space import Categorical, Choice, IntRange, SearchSpace
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


# -- typed dimensions ---------------------------------------------------------------------
@pytest.fixture
def typed() -> SearchSpace:
    """Categorical dims (mixed types too), a categorical parent and a numeric one."""
    return SearchSpace([
        Categorical("block", ("conv", "mbconv", "skip")),
        Choice("width", (8, 16, 32), active_if=("block", {"conv", "mbconv"})),
        Choice("expand", (2, 4), active_if=("block", ["mbconv"])),
        Categorical("mixed", (1, "a", None, 2.5, False)),
        Choice("depth", (1, 2)),
        Categorical("op.1", ("pool", "conv"), active_if=("depth", 2)),
    ])


def test_categorical_is_unordered_and_choice_ordered(typed):
    assert not typed["block"].ordered and typed["width"].ordered
    assert typed.ordered.tolist() == [False, True, True, False, True, False]
    assert isinstance(Categorical("a", (1,)), Categorical) and not isinstance(
        Categorical("a", (1,)), Choice)
    assert Categorical("a", (1, 2)) != Choice("a", (1, 2))


def test_typed_size_matches_enumeration(typed):
    enumerated = list(typed.enumerate())
    # block: conv 3 widths + mbconv 3 x 2 + skip 1 = 10; mixed 5; depth 1 + depth 2 x 2 ops = 3
    assert typed.size() == len(enumerated) == 10 * 5 * 3
    assert len({typed.arch_id(c) for c in enumerated}) == len(enumerated)
    assert all(typed.canonical(c) == c for c in enumerated)


def test_membership_condition_masks_inactive_genes(typed):
    skip = {"block": "skip", "width": 32, "expand": 4, "mixed": None, "depth": 1, "op.1": "conv"}
    assert typed.canonical(skip) == dict(skip, width=8, expand=2, **{"op.1": "pool"})
    conv = dict(skip, block="conv")
    assert typed.arch_id(conv) != typed.arch_id(dict(conv, width=8))
    assert typed.arch_id(conv) == typed.arch_id(dict(conv, expand=2))  # mbconv only
    assert typed.arch_id(dict(conv, block="mbconv")) != typed.arch_id(
        dict(conv, block="mbconv", expand=2))


def test_vectorised_activity_matches_is_active(typed):
    configs = list(typed.enumerate())[::7] + [typed.sample(np.random.default_rng(i))
                                               for i in range(30)]
    indices = np.stack([typed.encode(c) for c in configs])
    active = typed.active_matrix(indices)
    expected = [[typed.is_active(d, c) for d in typed.dims] for c in configs]
    assert active.tolist() == expected
    canonical = typed.canonical_indices(indices)
    assert canonical.tolist() == [typed.encode(typed.canonical(c)).tolist() for c in configs]


def test_mixed_type_values_encode_and_feature(typed):
    rng = np.random.default_rng(3)
    configs = [typed.sample(rng) for _ in range(40)]
    for config in configs:
        assert typed.decode(typed.encode(config)) == config
    features = typed.features(configs)  # a mixed-type value list must not crash
    assert features.shape == (40, len(typed)) and np.isfinite(features).all()


def test_typed_round_trip_through_dict_and_json(typed):
    import json

    data = json.loads(typed.to_json())
    assert data["dims"][0]["type"] == "categorical"
    assert data["dims"][1]["active_if"] == {"parent": "block", "in": ["conv", "mbconv"]}
    assert data["dims"][5]["active_if"] == {"parent": "depth", "at_least": 2}
    loaded = SearchSpace.from_dict(data)
    assert loaded == typed and loaded["expand"].active_if == ("block",
                                                             frozenset({"mbconv"}))
    assert [type(d) for d in loaded.dims] == [type(d) for d in typed.dims]


def test_old_stored_format_still_loads():
    old = {"dims": [{"name": "depth", "values": [1, 2], "active_if": None},
                    {"name": "w", "values": [8, 16], "active_if": ["depth", 2]}]}
    space = SearchSpace.from_dict(old)
    assert all(isinstance(d, Choice) for d in space.dims)
    assert space["w"].active_if == ("depth", 2) and space.size() == 1 + 2


def test_largest_and_smallest_move_only_ordered_dims(typed):
    assert typed.largest() == {"block": "conv", "width": 32, "expand": 4, "mixed": 1,
                               "depth": 2, "op.1": "pool"}
    assert typed.smallest() == {d.name: d.values[0] for d in typed.dims}


def test_variation_of_typed_spaces_stays_in_space(typed):
    rng = np.random.default_rng(4)
    for _ in range(100):
        a, b = typed.sample(rng), typed.sample(rng)
        typed.validate(typed.mutate(a, rng, rate=0.5))
        typed.validate(typed.crossover(a, b, rng))


def test_single_value_dimensions():
    space = SearchSpace([Categorical("only", ("x",)), Choice("one", (3,))])
    assert space.size() == 1 and list(space.enumerate()) == [{"only": "x", "one": 3}]
    assert space.mutate({"only": "x", "one": 3}, np.random.default_rng(0), rate=1.0) == {
        "only": "x", "one": 3}


def test_numpy_scalars_become_python_values():
    dim = Categorical("a", (np.int64(1), np.str_("b")))
    assert dim.values == (1, "b") and type(dim.values[0]) is int


@pytest.mark.parametrize("build, message", [
    (lambda: SearchSpace([Categorical("p", ("a", "b")), Choice("c", (1,), active_if=("p", 1))]),
     "ordered numeric parent"),
    (lambda: SearchSpace([Categorical("p", ("a", "b")),
                          Choice("c", (1,), active_if=("p", {"z"}))]), "cannot take"),
    (lambda: Choice("c", (1,), active_if=("p", set())), "never active"),
    (lambda: Choice("c", (1,), active_if="p"), "active_if must be"),
    (lambda: Categorical("c", (1, True)), "repeats a value"),
    (lambda: Categorical("c", ([1],)), "not hashable"),
    (lambda: Categorical("c", (float("nan"),)), "NaN"),
    (lambda: SearchSpace.from_dict({"dims": [{"name": "a", "type": "real", "values": [1]}]}),
     "unknown type"),
])
def test_bad_typed_definitions_raise(build, message):
    with pytest.raises(InvalidConfigError, match=message):
        build()


def test_categorical_is_exported_from_the_package():
    import hwnas

    assert hwnas.Categorical is Categorical

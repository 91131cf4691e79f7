"""A space's network-identity hook (``canonicalize``): configs that build one network are one
sub-network for ids, canonical forms, counts and every strategy's duplicate checks."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from hwnas.errors import InvalidConfigError
from hwnas.measure import Measurement
from hwnas.space import Categorical, Choice, SearchSpace
from hwnas.strategies import STRATEGIES, create_strategy
from hwnas.strategies.base import HistoryStrategy
from hwnas.testing.strategies import (
    check_strategy,
    generic_objectives,
    run_strategy,
    strategy_test_options,
    synthetic_space,
    tiny_cell_canonical,
    tiny_cell_space,
)

HOOK_PATH = "hwnas.testing.strategies:tiny_cell_canonical"


def _all_configs(space: SearchSpace) -> list[dict]:
    """Every config of the space's dimensions, the hook ignored (conditions masked)."""
    return list(SearchSpace(space.dims).enumerate())


def test_configs_of_one_network_share_an_id_and_a_canonical_form():
    space = tiny_cell_space()
    dead = {"edge0_1": "conv", "edge1_2": "zero", "edge0_2": "pool", "width": 8, "act": "relu"}
    other = dict(dead, edge0_1="pool")
    assert space.arch_id(dead) == space.arch_id(other)
    assert space.canonical(dead) == space.canonical(other) == dict(dead, edge0_1="zero")
    live = dict(dead, edge1_2="conv")
    assert space.arch_id(live) != space.arch_id(dict(live, edge0_1="pool"))
    assert space.canonical(live) == live


def test_size_and_enumerate_count_networks():
    space = tiny_cell_space()
    configs = _all_configs(space)
    assert len(configs) == 3 ** 3 * 3 * 2
    networks = list(space.enumerate())
    assert space.size() == len(networks) == 3 * 5 * 3 * 2
    assert len({space.arch_id(c) for c in networks}) == len(networks)
    assert all(space.canonical(c) == c for c in networks)
    assert {space.arch_id(c) for c in configs} == {space.arch_id(c) for c in networks}


def test_canonical_indices_and_arch_ids_agree_with_canonical_row_by_row():
    space = tiny_cell_space()
    configs = _all_configs(space)
    rows = np.stack([space.encode(c) for c in configs])
    canonical = space.canonical_indices(rows)
    expected = np.stack([space.encode(space.canonical(c)) for c in configs])
    np.testing.assert_array_equal(canonical, expected)
    assert space.arch_ids(rows) == [space.arch_id(c) for c in configs]
    np.testing.assert_array_equal(space.canonical_indices(rows.astype(float)), expected)
    assert space.canonical_indices(rows[:0]).shape == (0, len(space))


def test_a_hook_composes_with_conditions():
    def drop_width_when_skip(config):  # a nested function: fine in memory
        return dict(config, act="relu") if config["op"] == "skip" else dict(config)

    space = SearchSpace([Categorical("op", ("conv", "skip")),
                         Choice("width", (8, 16), active_if=("op", {"conv"})),
                         Categorical("act", ("relu", "gelu"))],
                        canonicalize=drop_width_when_skip)
    skip = {"op": "skip", "width": 16, "act": "gelu"}
    assert space.canonical(skip) == {"op": "skip", "width": 8, "act": "relu"}
    assert space.size() == 2 * 2 + 1
    with pytest.raises(InvalidConfigError, match="cannot be stored"):
        space.to_dict()


def test_without_a_hook_ids_are_unchanged():
    space = synthetic_space()
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(3)]
    # the ids of these configs before the hook existed (hwnas at fdb0abc)
    assert [space.arch_id(c) for c in configs] == [
        "fdcc844c48ef890d", "540f97c7705b7c02", "52fbea5a0996ad3e"]
    assert "canonicalize" not in space.to_dict()
    assert space.size() == len(list(space.enumerate()))


def test_the_hook_survives_dict_json_pickle_and_a_stored_study(tmp_path):
    space = tiny_cell_space()
    data = space.to_dict()
    assert data["canonicalize"] == HOOK_PATH
    for loaded in (SearchSpace.from_dict(data), SearchSpace.from_dict(json.loads(space.to_json())),
                   pickle.loads(pickle.dumps(space))):
        assert loaded == space and hash(loaded) == hash(space)
        configs = _all_configs(space)
        assert [loaded.arch_id(c) for c in configs] == [space.arch_id(c) for c in configs]
    assert space != SearchSpace(space.dims)
    assert SearchSpace(space.dims, HOOK_PATH) == space

    from hwnas.study import Study

    def evaluate(config):
        return {"latency": Measurement(float(generic_objectives(space, config, 1)[0]))}

    path = tmp_path / "study.db"
    study = Study.create(str(path), space=space, objectives=["latency"], metrics=[],
                         strategy="random", strategy_options={"batch_size": 4},
                         evaluator=evaluate)
    study.optimize(n_evaluations=8)
    reopened = Study.load(str(path), evaluator=evaluate)
    assert reopened.spec.space == space
    with pytest.warns(UserWarning, match="spent"):
        reopened.optimize(n_evaluations=space.size() + 10)
    ids = [r.arch_id for r in reopened.results()]
    assert len(ids) == len(set(ids)) == space.size()


def _edges_only(config):  # returns only the dimensions it knows
    canonical = tiny_cell_canonical(config)
    return {name: canonical[name] for name in ("edge0_1", "edge1_2", "edge0_2")}


def test_a_hook_over_some_dimensions_keeps_the_others():
    space = SearchSpace(tiny_cell_space().dims, canonicalize=_edges_only)
    config = {"edge0_1": "conv", "edge1_2": "zero", "edge0_2": "pool", "width": 32,
              "act": "gelu"}
    assert space.canonical(config) == {**config, "edge0_1": "zero"}
    assert space.arch_id(config) == tiny_cell_space().arch_id(config)
    assert space.size() == tiny_cell_space().size() == 90


def _raising(config):
    raise KeyError("edge9_9")


def _not_a_dict(config):
    return list(config.values())


def _outside(config):
    return dict(config, edge0_1="sep")


def _flip(config):  # not idempotent: conv <-> pool
    swap = {"conv": "pool", "pool": "conv", "zero": "zero"}
    return dict(config, edge0_2=swap[config["edge0_2"]])


@pytest.mark.parametrize("hook, message", [
    (_raising, "raised KeyError"),
    (_not_a_dict, "returned list"),
    (_outside, "outside the space"),
    (_flip, "not idempotent"),
    ("hwnas.testing.strategies:no_such_hook", "has no 'no_such_hook'"),
    ("hwnas_no_such_module:hook", "cannot import module"),
])
def test_a_bad_hook_says_what_is_wrong(hook, message):
    space = SearchSpace(tiny_cell_space().dims, canonicalize=hook)
    config = {"edge0_1": "conv", "edge1_2": "conv", "edge0_2": "conv", "width": 8,
              "act": "relu"}
    with pytest.raises(InvalidConfigError, match=message):
        space.arch_id(config)
    with pytest.raises(InvalidConfigError, match=message):
        space.canonical_indices(space.encode(config)[None, :])


@pytest.mark.parametrize("hook", [42, "no-colon", "module:"])
def test_a_hook_that_is_neither_a_function_nor_a_path_is_refused(hook):
    with pytest.raises(InvalidConfigError, match="canonicalize must be"):
        SearchSpace(tiny_cell_space().dims, canonicalize=hook)


class _ComparesConfigs(HistoryStrategy):
    """Skips measured *configs*, not networks (ignores the space's ids)."""

    batch_size = 4

    def ask(self, n):
        seen = {json.dumps(r.config, sort_keys=True) for r in self.results}
        rng = self.rng()
        out = []
        while len(out) < n:
            config = self.space.sample(rng)
            if json.dumps(config, sort_keys=True) not in seen:
                seen.add(json.dumps(config, sort_keys=True))
                out.append(config)
        return out


def test_the_conformance_suite_catches_a_strategy_blind_to_the_hook():
    with pytest.raises(AssertionError, match="twice|not canonical"):
        check_strategy(_ComparesConfigs, 60, space=tiny_cell_space())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_no_strategy_proposes_a_second_config_of_a_measured_network(name):
    space = tiny_cell_space()
    options = strategy_test_options(name)
    results = run_strategy(lambda: create_strategy(name, options), 60, space=space,
                           evaluate=lambda s, c: generic_objectives(s, c, 2),
                           directions=["maximize", "minimize"])
    assert len(results) == 60
    assert all(space.canonical(r.config) == r.config for r in results)
    networks = [tuple(sorted(space.canonical(r.config).items())) for r in results]
    assert len(set(networks)) == len(networks)
    dead_edge_variants = sum(r.config["edge0_1"] != "zero" and r.config["edge1_2"] == "zero"
                             for r in results)
    assert dead_edge_variants == 0


# -- the benchmark's cell space ----------------------------------------------------------------
@pytest.fixture(scope="module")
def cells():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "tabular"))
    import cells

    return cells


def test_cells_space_is_one_network_per_cell_plan(cells):
    space = cells.cells_space()
    assert space.to_dict()["canonicalize"] == "hwnas.cell_space:canonical_cell"
    configs = _all_configs(space)
    plans = {cells.cell_plan(c) for c in configs}
    ids = {space.arch_id(c) for c in configs}
    assert len(configs) == 15625 and len(ids) == len(plans) == space.size() == 9445
    rng = np.random.default_rng(0)
    for index in rng.choice(len(configs), 300, replace=False):
        config = configs[index]
        assert cells.cell_plan(space.canonical(config)) == cells.cell_plan(config)


def test_the_cells_tasks_search_the_cells_space(cells):
    from hwnas.tabular import load_benchmark

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import search_efficiency as se

    bench = load_benchmark("mnist1d_cells")
    for name in ("cells", "cells3"):
        assert se.TASKS[name].space(bench) == cells.cells_space()
    assert se.TASKS["blocks"].space(load_benchmark("mnist1d_blocks")).canonicalize is None
    assert "-net" in str(se.cache_path(Path("x"), se.TASKS["cells"], bench, "linas", 0, 800))

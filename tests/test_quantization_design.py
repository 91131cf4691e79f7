"""Issue 14: the starting design spreads a policy's share of INT8 layers (the ``quant``
group) instead of drawing each layer's precision on its own."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import InvalidConfigError
from hwnas.quantization import INT8, policy_genes, policy_space
from hwnas.quantization.policy import GROUP
from hwnas.space import Categorical, Choice, SearchSpace
from hwnas.strategies import create_strategy
from hwnas.strategies.design import balanced_design, spread_groups, starting_design
from hwnas.supernets import create_supernet


@pytest.fixture(scope="module")
def joint_space() -> SearchSpace:
    return policy_space(create_supernet("tiny_elastic_cnn"))


def int8_counts(space: SearchSpace, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: active policy layers in INT8, and active policy layers."""
    columns = space.groups[GROUP]
    int8 = space[space.names[columns[0]]].values.index(INT8)
    active = space.active_matrix(rows)[:, columns]
    return ((rows[:, columns] == int8) & active).sum(axis=1), active.sum(axis=1)


def test_policy_genes_form_one_group_that_survives_storage(joint_space):
    assert joint_space.groups == {GROUP: [joint_space.names.index(g)
                                          for g in policy_genes(joint_space)]}
    assert SearchSpace.from_dict(joint_space.to_dict()) == joint_space
    assert SearchSpace.from_dict(joint_space.to_dict()).groups == joint_space.groups
    architecture = create_supernet("tiny_elastic_cnn").space
    assert architecture.groups == {}
    assert all("group" not in d for d in architecture.to_dict()["dims"])  # stored as before


def test_a_group_holds_alike_dimensions_only():
    with pytest.raises(InvalidConfigError, match="group 'q'"):
        SearchSpace([Categorical("a", ("fp32", "int8"), group="q"),
                     Categorical("b", ("fp32", "int4"), group="q")])
    with pytest.raises(InvalidConfigError, match="group 'q'"):
        SearchSpace([Categorical("a", (1, 2), group="q"), Choice("b", (1, 2), group="q")])
    with pytest.raises(InvalidConfigError, match="non-empty string"):
        Categorical("a", ("fp32", "int8"), group="")


def test_starting_design_spreads_the_int8_share(joint_space):
    rows = starting_design(joint_space, 40, np.random.default_rng(3))
    int8, active = int8_counts(joint_space, rows)
    share = int8 / active
    assert (share == 1.0).sum() >= 2 and (share == 0.0).sum() >= 2  # the pure policies
    assert ((share > 0.0) & (share < 1.0)).sum() >= 20  # and mixed ones between
    assert np.histogram(share, bins=4, range=(0, 1))[0].min() >= 6  # every quarter

    independent = balanced_design(joint_space, 40, np.random.default_rng(3))
    int8, active = int8_counts(joint_space, independent)
    assert np.var(int8 / active) < np.var(share)  # gene by gene: clustered about half


def test_each_gene_stays_balanced_on_average():
    space = SearchSpace([Choice("w", (8, 16))]
                        + [Categorical(f"q{i}", ("fp32", "int8"), group="q") for i in range(6)])
    rows = np.concatenate([spread_groups(space, balanced_design(space, 30, rng), rng)
                           for rng in map(np.random.default_rng, range(40))])
    assert np.abs(rows[:, 1:].mean(axis=0) - 0.5).max() < 0.05
    assert np.bincount(rows[:, 0]).tolist() == [600, 600]  # the other columns are untouched


def test_three_valued_groups_get_every_pure_policy():
    space = SearchSpace([Categorical(f"b{i}", (4, 8, 32), group="bits") for i in range(5)])
    rows = spread_groups(space, np.zeros((30, 5), dtype=np.int64), np.random.default_rng(1))
    pure = {int(row[0]) for row in rows if len(set(row.tolist())) == 1}
    assert pure == {0, 1, 2}


def test_a_space_without_groups_gets_the_same_design():
    space = SearchSpace([Choice("w", (8, 16, 32)), Categorical("op", ("a", "b", "c"))])
    rng = np.random.default_rng(5)
    rows = balanced_design(space, 12, rng)
    state = rng.bit_generator.state
    assert np.array_equal(spread_groups(space, rows, rng), rows)
    assert rng.bit_generator.state == state  # draws nothing: other spaces' designs unchanged


@pytest.mark.parametrize("strategy", ["nsga2", "linas"])
def test_a_joint_search_starts_with_pure_and_mixed_policies(joint_space, strategy):
    chosen = create_strategy(strategy)
    chosen.bind(joint_space, ["maximize", "minimize"], seed=0)
    start = chosen.ask(chosen.batch_size if strategy == "nsga2" else 12)
    rows = np.stack([joint_space.encode(c) for c in start])
    int8, active = int8_counts(joint_space, rows)
    assert (int8 == active).any() and (int8 == 0).any() and ((int8 > 0) & (int8 < active)).any()


def test_the_design_starts_with_both_ends_in_int8_and_in_fp32(joint_space):
    """The largest network fully INT8 (the reference SimQ-NAS compares to) and the smallest
    fully INT8 are among the first rows, with the same two networks in fp32."""
    rows = starting_design(joint_space, 12, np.random.default_rng(0))
    ordered = [i for i, d in enumerate(joint_space.dims) if d.ordered and len(d.values) > 1]
    largest = joint_space.encode(joint_space.largest())[ordered]
    int8, active = int8_counts(joint_space, rows[:4])
    ends = ["largest" if np.array_equal(row[ordered], largest) else
            "smallest" if not row[ordered].any() else "?" for row in rows[:4]]
    shares = ["int8" if i == a else "fp32" if i == 0 else "mixed" for i, a in zip(int8, active)]
    assert sorted(zip(ends, shares)) == [("largest", "fp32"), ("largest", "int8"),
                                         ("smallest", "fp32"), ("smallest", "int8")]
    plain = SearchSpace([d for d in joint_space.dims if d.group is None])
    first = starting_design(plain, 12, np.random.default_rng(0))[:2]
    assert np.array_equal(first[0], plain.encode(plain.largest()))
    assert not first[1].any()  # without groups: the largest and the smallest, as before

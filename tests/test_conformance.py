"""Every registered super-network and strategy passes the conformance suites."""

from __future__ import annotations

import pytest

from hwnas.strategies import STRATEGIES
from hwnas.supernets import SUPERNETS, create_supernet
from hwnas.testing.strategies import check_strategy_suite
from hwnas.testing.supernets import check_supernet


@pytest.mark.parametrize("name", SUPERNETS.names("tiny_*"))
def test_tiny_supernets_conform(name):
    check_supernet(create_supernet(name))


@pytest.mark.parametrize("name", sorted(set(SUPERNETS.names()) - set(SUPERNETS.names("tiny_*"))))
def test_every_family_has_a_tiny_variant(name):
    assert f"tiny_{name}" in SUPERNETS


#: full-size families that take more than a few seconds here (tens of millions of weights)
LARGE_FAMILIES = {"ofa_mobilenet_v3", "ofa_resnet50"}


#: full-size families whose weights come from a hub (tested through their tiny_* variants,
#: built from a config)
HUB_FAMILIES = {"hf_model"}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in LARGE_FAMILIES else n
    for n in sorted(set(SUPERNETS.names()) - set(SUPERNETS.names("tiny_*")) - HUB_FAMILIES)])
def test_full_supernets_extract_exactly(name):
    from hwnas.testing.supernets import check_extract_matches_activate

    check_extract_matches_activate(create_supernet(name), n_configs=30)


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_strategies_conform(name):
    """Every registered strategy, with the cheap options it declares, over ordered,
    categorical, mixed-type, conditional and single-value spaces, 1-3 objectives, failed
    evaluations and a spent space (hwnas.testing.strategies)."""
    check_strategy_suite(name)

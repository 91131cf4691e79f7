"""Conformance checks every super-network must pass (used over the whole registry)."""

from __future__ import annotations

import numpy as np
import torch

from hwnas.supernets import ElasticSupernet


def check_extract_matches_activate(supernet: ElasticSupernet, n_configs: int = 25,
                                   seed: int = 0, atol: float = 1e-5) -> None:
    """For random configs (and both extremes), the extracted standalone sub-network gives
    the same outputs as the activated super-network, in eval mode."""
    rng = np.random.default_rng(seed)
    supernet.eval()
    configs = [supernet.space.largest(), supernet.space.smallest()]
    configs += [supernet.space.sample(rng) for _ in range(n_configs)]
    x = torch.randn((3, *supernet.input_shape), generator=torch.Generator().manual_seed(seed))
    for config in configs:
        supernet.activate(config)
        with torch.no_grad():
            expected = supernet(x)
            actual = supernet.extract(config).eval()(x)
        assert torch.allclose(expected, actual, atol=atol), (
            f"extract({config}) differs from the activated super-network by "
            f"{(expected - actual).abs().max():.2e}"
        )


def check_extract_is_standalone(supernet: ElasticSupernet, seed: int = 0) -> None:
    """The extracted module holds only plain torch layers and owns its weights."""
    rng = np.random.default_rng(seed)
    config = supernet.space.sample(rng)
    sub = supernet.extract(config)
    for module in sub.modules():
        assert module.__class__.__module__.startswith("torch."), (
            f"extracted sub-network contains {type(module).__name__}, not a plain torch layer"
        )
    own = {p.data_ptr() for p in supernet.parameters()}
    assert not any(p.data_ptr() in own for p in sub.parameters()), "weights are shared"


def check_largest_equals_parent(supernet: ElasticSupernet) -> None:
    """The largest sub-network has every parameter of the super-network."""
    largest = supernet.extract(supernet.space.largest())
    assert sum(p.numel() for p in largest.parameters()) == sum(
        p.numel() for p in supernet.parameters()
    )


def check_supernet(supernet: ElasticSupernet) -> None:
    check_extract_matches_activate(supernet)
    check_extract_is_standalone(supernet)
    check_largest_equals_parent(supernet)

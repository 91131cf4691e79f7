"""Conformance checks every super-network must pass (used over the whole registry, and
usable on a super-network of your own: they need only the documented protocol)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hwnas.supernets.io import example_inputs, forward, logits_of


def check_extract_matches_activate(supernet: Any, n_configs: int = 25,
                                   seed: int = 0, atol: float = 1e-5) -> None:
    """For random configs (and both extremes), the extracted standalone sub-network gives
    the same outputs as the activated super-network, in eval mode."""
    rng = np.random.default_rng(seed)
    supernet.eval()
    configs = [supernet.space.largest(), supernet.space.smallest()]
    configs += [supernet.space.sample(rng) for _ in range(n_configs)]
    torch.manual_seed(seed)
    inputs = example_inputs(supernet, 3)
    for config in configs:
        supernet.activate(config)
        with torch.no_grad():
            expected = logits_of(forward(supernet, inputs))
            actual = logits_of(forward(supernet.extract(config).eval(), inputs))
        if not torch.allclose(expected, actual, atol=atol):
            raise AssertionError(
                f"extract({config}) differs from the activated super-network by "
                f"{(expected - actual).abs().max():.2e}"
            )


def check_extract_is_standalone(supernet: Any, seed: int = 0) -> None:
    """The extracted module owns its weights, needs nothing of hwnas's elastic machinery
    (every weight and buffer sits in a layer that is not hwnas's; hwnas's plain containers
    such as :class:`hwnas.supernets.static.Residual` may hold such layers), and extracting
    leaves the super-network's active sub-network as it was."""
    rng = np.random.default_rng(seed)
    config = supernet.space.sample(rng)
    before = getattr(supernet, "active_config", None)
    sub = supernet.extract(config)
    if getattr(supernet, "active_config", None) != before:
        raise AssertionError("extract() changed the super-network's active config")
    for module in sub.modules():
        holds = any(True for _ in module.parameters(recurse=False)) or any(
            True for _ in module.buffers(recurse=False))
        if holds and module.__class__.__module__.startswith("hwnas."):
            raise AssertionError(f"extracted sub-network holds weights in hwnas's "
                                 f"{type(module).__name__}, not in a plain layer")
    own = {p.data_ptr() for p in supernet.parameters()}
    if any(p.data_ptr() in own for p in sub.parameters()):
        raise AssertionError("the extracted sub-network shares weights with the super-network")


def check_macs_match_activate(supernet: Any, n_configs: int = 6, seed: int = 0) -> None:
    """The MACs counted on the activated super-network equal those of the extracted
    sub-network, for both extremes and random configs (so an elastic layer costs what its
    active slice costs, and attention's QK^T and AV are counted on both sides alike)."""
    from hwnas.measure.counting import count_macs

    rng = np.random.default_rng(seed)
    supernet.eval()
    configs = [supernet.space.largest(), supernet.space.smallest()]
    configs += [supernet.space.sample(rng) for _ in range(n_configs)]
    before = getattr(supernet, "active_config", None)
    torch.manual_seed(seed)
    inputs = example_inputs(supernet, 1)
    try:
        for config in configs:
            supernet.activate(config)
            activated = count_macs(supernet, inputs)
            extracted = count_macs(supernet.extract(config).eval(), inputs)
            if activated != extracted:
                raise AssertionError(f"MACs of extract({config}) are {extracted:,}, of the "
                                     f"activated super-network {activated:,}")
    finally:
        if before is not None:
            supernet.activate(before)


def check_largest_equals_parent(supernet: Any) -> None:
    """The largest sub-network has every parameter of the super-network."""
    largest = supernet.extract(supernet.space.largest())
    got = sum(p.numel() for p in largest.parameters())
    total = sum(p.numel() for p in supernet.parameters())
    if got != total:
        raise AssertionError(f"the largest sub-network has {got} parameters, the "
                             f"super-network {total}")


def check_supernet(supernet: Any) -> None:
    check_extract_matches_activate(supernet)
    check_extract_is_standalone(supernet)
    check_largest_equals_parent(supernet)
    check_macs_match_activate(supernet)
    check_reorder_preserves_outputs(supernet)


def check_reorder_preserves_outputs(supernet: Any, seed: int = 0, atol: float = 1e-5) -> None:
    """A super-network that re-orders its channels by importance
    (``reorder_by_importance()``, used before width shrinking) computes the same outputs
    afterwards with every sub-network of full width: the largest, and random ones whose
    kernels and depths vary but whose widths are the largest (roles as
    :func:`hwnas.training.roles.dimension_roles` gives them). Does nothing for a
    super-network without the method."""
    import copy

    from hwnas.training.roles import dimension_roles

    if not callable(getattr(supernet, "reorder_by_importance", None)):
        return
    supernet = copy.deepcopy(supernet).eval()
    roles = dimension_roles(supernet)
    largest = supernet.space.largest()
    rng = np.random.default_rng(seed)
    configs = [largest] + [
        {name: (largest[name] if roles[name] == "width" else value)
         for name, value in supernet.space.sample(rng).items()} for _ in range(8)]
    torch.manual_seed(seed)
    inputs = example_inputs(supernet, 3)
    before_state = {k: v.clone() for k, v in supernet.state_dict().items()}
    with torch.no_grad():
        before = []
        for config in configs:
            supernet.activate(config)
            before.append(logits_of(forward(supernet, inputs)))
        supernet.reorder_by_importance()
        for config, expected in zip(configs, before):
            supernet.activate(config)
            after = logits_of(forward(supernet, inputs))
            if not torch.allclose(expected, after, atol=atol):
                raise AssertionError(
                    f"reorder_by_importance() changed the outputs of the full-width "
                    f"sub-network {config} by {(expected - after).abs().max():.2e}")
    if all(torch.equal(v, supernet.state_dict()[k]) for k, v in before_state.items()):
        raise AssertionError("reorder_by_importance() left every weight where it was")

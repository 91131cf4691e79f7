"""Which search-space dimensions are kernels, depths or widths.

Progressive shrinking makes one kind of dimension elastic at a time, so it needs to know
each dimension's role. A super-network may declare them (``dimension_roles``: a mapping
from dimension name to ``"kernel"``, ``"depth"`` or ``"width"``, or a method returning
one); otherwise the name decides: ``...kernel`` is a kernel, ``...depth`` (or ``layers``)
a depth, anything else (widths, expand ratios, heads, FFN sizes, your own) a width.

>>> from hwnas.space import Choice, SearchSpace
>>> class Net:
...     space = SearchSpace([Choice("stage0.depth", (1, 2)), Choice("stage0.block0.kernel",
...                          (3, 5)), Choice("units", (4, 8))])
>>> dimension_roles(Net())
{'stage0.depth': 'depth', 'stage0.block0.kernel': 'kernel', 'units': 'width'}
"""

from __future__ import annotations

from typing import Any

from hwnas.errors import InvalidConfigError

ROLES = ("kernel", "depth", "width")
"""The roles, in the order progressive shrinking makes them elastic (Once-for-All)."""


def role_from_name(name: str) -> str:
    """The role a dimension's name suggests (the last dotted part decides)."""
    last = name.rsplit(".", 1)[-1].lower()
    if "kernel" in last:
        return "kernel"
    if "depth" in last or last in {"layers", "num_layers", "n_layers"}:
        return "depth"
    return "width"


def dimension_roles(supernet: Any) -> dict[str, str]:
    """Each dimension's role: declared by the super-network, else from its name."""
    declared = getattr(supernet, "dimension_roles", None)
    if callable(declared):
        declared = declared()
    declared = dict(declared or {})
    names = supernet.space.names
    unknown = sorted(set(declared) - set(names))
    wrong = {k: v for k, v in declared.items() if v not in ROLES}
    if unknown or wrong:
        raise InvalidConfigError(
            f"{type(supernet).__name__}.dimension_roles "
            + (f"names dimensions not in the space: {unknown}" if unknown else
               f"gives roles other than {list(ROLES)}: {wrong}")
        )
    return {name: declared.get(name, role_from_name(name)) for name in names}

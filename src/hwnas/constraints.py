"""Constraints on measured keys: ``latency@b1<=2.0``, ``params<=1e6``, ``accuracy>=0.95``.

A :class:`Constraint` bounds one objective or metric key from above (``<=``) or below
(``>=``). Its :meth:`~Constraint.violation` is 0 when the value satisfies it and the
distance to the bound otherwise; a missing or NaN value violates it infinitely, so a
sub-network whose figure is unknown is never taken for a feasible one.

>>> limit = parse_constraint("latency@b1<=2.0")
>>> limit
Constraint(key='latency@b1', op='<=', bound=2.0)
>>> limit.violation(2.5), limit.violation(1.0), limit.satisfied(2.0)
(0.5, 0.0, True)
>>> limit.to_text()
'latency@b1<=2'
>>> total_violation(parse_constraints(["params<=1e6", "accuracy>=0.9"]),
...                 {"params": 1.5e6, "accuracy": 0.95})
500000.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hwnas.errors import InvalidConfigError

Operator = Literal["<=", ">="]
OPERATORS: tuple[str, ...] = ("<=", ">=")

# key, then any run of comparison characters, then the number
_PATTERN = re.compile(r"^\s*(?P<key>[^<>=!\s]+)\s*(?P<op>[<>=!]+)\s*(?P<bound>[^<>=!\s].*?)\s*$")
_EXAMPLE = "write KEY<=NUMBER or KEY>=NUMBER, e.g. 'latency@b1<=2.0' or 'params<=1e6'"


@dataclass(frozen=True)
class Constraint:
    """``key op bound``: the measured value of ``key`` must be ``<=`` or ``>=`` ``bound``."""

    key: str
    op: Operator
    bound: float

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise InvalidConfigError(f"constraint key {self.key!r} is empty; {_EXAMPLE}")
        if self.op not in OPERATORS:
            raise InvalidConfigError(
                f"constraint operator {self.op!r} on {self.key!r} is not allowed; "
                f"use one of {', '.join(OPERATORS)}"
            )
        try:
            bound = float(self.bound)
        except (TypeError, ValueError):
            raise InvalidConfigError(
                f"constraint bound {self.bound!r} on {self.key!r} is not a number; {_EXAMPLE}"
            ) from None
        if math.isnan(bound):
            raise InvalidConfigError(f"constraint bound on {self.key!r} is NaN; {_EXAMPLE}")
        object.__setattr__(self, "bound", bound)

    def violation(self, value: float | None) -> float:
        """0 if ``value`` satisfies the constraint, else its distance to the bound (> 0).

        A missing (None) or NaN value gives ``inf``.
        """
        if value is None:
            return math.inf
        value = float(value)
        if math.isnan(value):
            return math.inf
        excess = value - self.bound if self.op == "<=" else self.bound - value
        return excess if excess > 0 else 0.0

    def satisfied(self, value: float | None) -> bool:
        """True when ``value`` meets the bound (a missing or NaN value never does)."""
        return self.violation(value) == 0.0

    def to_text(self) -> str:
        """The constraint as :func:`parse_constraint` reads it back exactly.

        >>> parse_constraint("params<=1e6").to_text(), parse_constraint("acc >= 0.95").to_text()
        ('params<=1000000', 'acc>=0.95')
        """
        bound = repr(self.bound)
        return f"{self.key}{self.op}{bound[:-2] if bound.endswith('.0') else bound}"

    def to_dict(self) -> dict:
        return {"key": self.key, "op": self.op, "bound": self.bound}

    @classmethod
    def from_dict(cls, data: Mapping) -> Constraint:
        return cls(key=data["key"], op=data["op"], bound=data["bound"])


def parse_constraint(text: str | Constraint) -> Constraint:
    """Read ``'KEY<=NUMBER'`` or ``'KEY>=NUMBER'`` (spaces allowed, e.g. ``'params <= 1e6'``)."""
    if isinstance(text, Constraint):
        return text
    if not isinstance(text, str):
        raise InvalidConfigError(f"constraint {text!r} is not text; {_EXAMPLE}")
    match = _PATTERN.match(text)
    if match is None:
        raise InvalidConfigError(f"cannot read constraint {text!r}; {_EXAMPLE}")
    key, op, bound_text = match.group("key"), match.group("op"), match.group("bound")
    if op not in OPERATORS:
        raise InvalidConfigError(
            f"constraint {text!r} uses operator {op!r}; only <= and >= are allowed "
            f"(a bound includes its value), {_EXAMPLE}"
        )
    try:
        bound = float(bound_text)
    except ValueError:
        raise InvalidConfigError(
            f"constraint {text!r}: bound {bound_text!r} is not a number; {_EXAMPLE}"
        ) from None
    return Constraint(key=key, op=op, bound=bound)  # type: ignore[arg-type]


def parse_constraints(texts: Iterable[str | Constraint] | None) -> list[Constraint]:
    """Parse many; a key bounded twice the same way is refused (say which bound you mean)."""
    constraints = [parse_constraint(text) for text in (texts or [])]
    seen: dict[tuple[str, str], Constraint] = {}
    for constraint in constraints:
        earlier = seen.get((constraint.key, constraint.op))
        if earlier is not None and earlier != constraint:
            raise InvalidConfigError(
                f"constraints {earlier.to_text()!r} and {constraint.to_text()!r} bound the "
                "same key the same way; keep one"
            )
        seen[(constraint.key, constraint.op)] = constraint
    unique: list[Constraint] = []
    for constraint in constraints:
        if constraint not in unique:
            unique.append(constraint)
    return unique


def total_violation(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> float:
    """Sum of the violations of ``constraints`` by ``metrics`` (0 when all are satisfied).

    A key absent from ``metrics`` counts as infinitely violated.
    """
    return float(sum(c.violation(metrics.get(c.key)) for c in constraints))


def is_feasible(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> bool:
    """True when ``metrics`` satisfy every constraint (always true with no constraints)."""
    return total_violation(constraints, metrics) == 0.0


def constraint_keys(constraints: Sequence[Constraint]) -> list[str]:
    """The keys the constraints bound, each once, in order."""
    return list(dict.fromkeys(c.key for c in constraints))


def check_known_keys(constraints: Sequence[Constraint], known: Iterable[str]) -> None:
    """Refuse a constraint on a key nobody measures (names the known keys)."""
    known = list(dict.fromkeys(known))
    for constraint in constraints:
        if constraint.key not in known:
            import difflib

            close = difflib.get_close_matches(constraint.key, known, n=3)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            raise InvalidConfigError(
                f"constraint {constraint.to_text()!r} bounds {constraint.key!r}, which no "
                f"objective or measure of this study measures; {hint}measured keys: "
                f"{', '.join(known) or '(none)'}; add a measure for it or fix the key"
            )

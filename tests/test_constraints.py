"""Constraints: parsing, errors, violation arithmetic."""

from __future__ import annotations

import math

import pytest

from hwnas.constraints import (
    Constraint,
    check_known_keys,
    is_feasible,
    parse_constraint,
    parse_constraints,
    total_violation,
)
from hwnas.errors import HwnasError, InvalidConfigError


@pytest.mark.parametrize(
    "text, expected",
    [
        ("latency@b1<=2.0", Constraint("latency@b1", "<=", 2.0)),
        ("params<=1e6", Constraint("params", "<=", 1_000_000.0)),
        ("accuracy >= 0.95", Constraint("accuracy", ">=", 0.95)),
        ("  macs<=-3.5E-2 ", Constraint("macs", "<=", -0.035)),
        ("model_size_mb>=+4", Constraint("model_size_mb", ">=", 4.0)),
    ],
)
def test_parse(text: str, expected: Constraint) -> None:
    assert parse_constraint(text) == expected
    assert parse_constraint(expected.to_text()) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("latency<2", "only <= and >="),
        ("latency=2", "only <= and >="),
        ("latency==2", "only <= and >="),
        ("latency=>2", "only <= and >="),
        ("latency!=2", "only <= and >="),
        ("latency<=two", "not a number"),
        ("latency<=nan", "NaN"),
        ("latency 2", "cannot read"),
        ("<=2", "cannot read"),
        ("latency<=", "cannot read"),
    ],
)
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidConfigError) as error:
        parse_constraint(text)
    assert fragment in str(error.value)
    assert isinstance(error.value, HwnasError)


def test_constructor_checks() -> None:
    with pytest.raises(InvalidConfigError, match="operator"):
        Constraint("latency", "<", 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="not a number"):
        Constraint("latency", "<=", "fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="empty"):
        Constraint(" ", "<=", 1.0)
    assert Constraint("a", "<=", 1).bound == 1.0
    assert Constraint.from_dict(Constraint("a", ">=", 3).to_dict()) == Constraint("a", ">=", 3)


def test_violation() -> None:
    upper = Constraint("latency", "<=", 2.0)
    lower = Constraint("accuracy", ">=", 0.9)
    assert upper.violation(1.0) == 0.0 and upper.violation(2.0) == 0.0
    assert upper.violation(2.5) == pytest.approx(0.5)
    assert lower.violation(0.95) == 0.0 and lower.violation(0.9) == 0.0
    assert lower.violation(0.5) == pytest.approx(0.4)
    for missing in (None, math.nan):
        assert upper.violation(missing) == math.inf
        assert not upper.satisfied(missing)
    assert upper.satisfied(-math.inf) and not lower.satisfied(-math.inf)


def test_total_violation_and_feasible() -> None:
    constraints = parse_constraints(["latency<=2", "accuracy>=0.9"])
    assert total_violation(constraints, {"latency": 3.0, "accuracy": 0.8}) == pytest.approx(1.1)
    assert total_violation(constraints, {"latency": 1.0, "accuracy": 0.95}) == 0.0
    assert total_violation(constraints, {"latency": 1.0}) == math.inf
    assert is_feasible(constraints, {"latency": 1.0, "accuracy": 0.95})
    assert is_feasible([], {})
    assert total_violation([], {"latency": 9.0}) == 0.0


def test_parse_constraints_duplicates() -> None:
    assert parse_constraints(None) == []
    assert parse_constraints(["a<=1", "a<=1"]) == [Constraint("a", "<=", 1.0)]
    assert len(parse_constraints(["a<=1", "a>=0"])) == 2  # a range is two bounds
    with pytest.raises(InvalidConfigError, match="same key"):
        parse_constraints(["a<=1", "a<=2"])


def test_unknown_key_refused() -> None:
    constraints = parse_constraints(["latncy@b1<=2"])
    with pytest.raises(InvalidConfigError, match="did you mean 'latency@b1'"):
        check_known_keys(constraints, ["accuracy", "latency@b1", "params"])
    check_known_keys(parse_constraints(["params<=5"]), ["accuracy", "params"])

"""Objectives and metrics by key: a key unique in the study, a measure kind with settings,
and for an objective a direction. Several of one kind may sit side by side.

Text form (the CLI's, also accepted by ``Study.create``): ``KEY[:KIND[:K=V,...]]``; the kind
defaults to the key's part before ``@``, values parse as JSON, else as text.

>>> o = Objective.parse("latency@b32:latency:batch_size=32,threads=2")
>>> o.key, o.direction, o.measure.batch_size, o.measure.threads
('latency@b32', 'minimize', 32, 2)
>>> Objective.parse("latency@b1").measure.name
'latency'
>>> Metric.parse("macs").key
'macs'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from hwnas.errors import InvalidConfigError
from hwnas.measure.base import Measure
from hwnas.measure.measures import create_measure

DIRECTIONS = ("minimize", "maximize")
_KEY = re.compile(r"^[A-Za-z0-9_@.\-]+$")


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidConfigError(
            f"measure key {key!r} is not valid; use letters, digits and _ @ . - "
            "(e.g. 'latency@b32')"
        )
    return key


def parse_options(text: str) -> dict[str, Any]:
    """``k=v,k2=v2`` as a dict; values parse as JSON, else stay text."""
    options: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise InvalidConfigError(f"expected K=V in measure options, got {pair!r}")
        try:
            options[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[name.strip()] = raw
    return options


def parse_measure_text(text: str) -> tuple[str, str, dict[str, Any]]:
    """``KEY[:KIND[:K=V,...]]`` as ``(key, kind, settings)``.

    >>> parse_measure_text("latency@b1:latency:batch_size=1")
    ('latency@b1', 'latency', {'batch_size': 1})
    """
    key, _, rest = text.strip().partition(":")
    kind, _, options = rest.partition(":")
    return check_key(key), kind or key.split("@")[0], parse_options(options)


@dataclass(frozen=True)
class Objective:
    """A measure to optimise under ``key``, and whether smaller or larger is better."""

    key: str
    direction: str
    measure: Measure

    def __post_init__(self) -> None:
        check_key(self.key)
        if self.direction not in DIRECTIONS:
            raise InvalidConfigError(
                f"objective {self.key!r}: direction must be one of {DIRECTIONS}, "
                f"got {self.direction!r}"
            )
        if not isinstance(self.measure, Measure):
            raise InvalidConfigError(f"objective {self.key!r}: measure must be a "
                                     f"hwnas Measure, got {type(self.measure).__name__}")

    @property
    def name(self) -> str:
        return self.key

    @classmethod
    def named(cls, kind: str, direction: str | None = None,
              settings: dict[str, Any] | None = None, key: str | None = None) -> Objective:
        """The registered measure ``kind`` as an objective (key: ``kind`` unless given), in
        its natural direction unless ``direction`` is given."""
        measure = create_measure(kind, settings)
        return cls(key or kind, direction or measure.direction, measure)

    @classmethod
    def parse(cls, text: str, direction: str | None = None) -> Objective:
        key, kind, settings = parse_measure_text(text)
        return cls.named(kind, direction, settings, key)


@dataclass(frozen=True)
class Metric:
    """A figure recorded with every evaluation under ``key``, not optimised."""

    key: str
    measure: Measure

    def __post_init__(self) -> None:
        check_key(self.key)
        if not isinstance(self.measure, Measure):
            raise InvalidConfigError(f"metric {self.key!r}: measure must be a hwnas Measure, "
                                     f"got {type(self.measure).__name__}")

    @classmethod
    def named(cls, kind: str, settings: dict[str, Any] | None = None,
              key: str | None = None) -> Metric:
        return cls(key or kind, create_measure(kind, settings))

    @classmethod
    def parse(cls, text: str) -> Metric:
        key, kind, settings = parse_measure_text(text)
        return cls.named(kind, settings, key)


def as_objective(item: str | tuple[str, str] | Objective) -> Objective:
    """An :class:`Objective` from itself, its text (``"latency@b1"``) or a ``(text,
    direction)`` pair (as :attr:`hwnas.tabular.TabularBenchmark.default_objectives` gives)."""
    if isinstance(item, Objective):
        return item
    if isinstance(item, str):
        return Objective.parse(item)
    if isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(part, str)
                                                                   for part in item):
        return Objective.parse(item[0], item[1])
    raise InvalidConfigError(
        f"objective {item!r}: give its key ('latency@b1'), a (key, direction) pair "
        "(('latency@b1', 'minimize')) or an hwnas.measure.Objective"
    )


def as_metric(item: str | Metric | Measure) -> Metric:
    if isinstance(item, Metric):
        return item
    if isinstance(item, Measure):
        return Metric(item.name, item)
    return Metric.parse(item)


__all__ = ["DIRECTIONS", "Metric", "Objective", "as_metric", "as_objective", "check_key",
           "parse_measure_text", "parse_options"]

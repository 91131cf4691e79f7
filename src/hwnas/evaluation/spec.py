"""The evaluator spec: what a study measures and how, as plain data stored with it.

``source`` says where sub-networks come from (a checkpoint file with its sha256, a
super-network factory by registered name or import path, a tabulated benchmark by name, a
user callable ``"package.module:function"``, or an object handed over in Python, which a
reopened study needs again); ``data`` the data (a registered data set with its options and
the split seed taken from the checkpoint, an ``.npz`` file, or the user's arrays, known by
their fingerprint); ``measures`` every figure by key, with its kind, settings, unit and,
for objectives, direction; ``prepare`` the batch-norm recalibration and ``transform`` an
optional artifact transform (e.g. quantization).

>>> spec = EvaluatorSpec(SourceSpec("factory", "tiny_elastic_cnn"), None,
...                      (MeasureSpec("macs", "macs", {}, None, "MACs"),))
>>> EvaluatorSpec.from_dict(spec.to_dict()) == spec
True
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwnas.errors import StudyError

SOURCE_KINDS = ("checkpoint", "factory", "benchmark", "callable", "object")
DATA_KINDS = ("registered", "npz", "arrays")


@dataclass(frozen=True)
class MeasureSpec:
    """One figure: ``key`` (unique in the study), measure ``kind`` (registry name) and its
    ``settings``; ``direction`` for an objective, ``None`` for a recorded metric."""

    key: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)
    direction: str | None = None
    unit: str = ""

    @property
    def is_objective(self) -> bool:
        return self.direction is not None

    def describe(self) -> str:
        """``kind(k=v, ...)``: how this figure is measured."""
        options = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{self.kind}({options})"


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None


@dataclass(frozen=True)
class DataSpec:
    kind: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    split_seed: int | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class EvaluatorSpec:
    source: SourceSpec
    data: DataSpec | None
    measures: tuple[MeasureSpec, ...]
    prepare: dict[str, Any] | None = None
    transform: dict[str, Any] | None = None
    #: the thread budget every stage of an evaluation runs under (:mod:`hwnas.threads`)
    threads: int = 1

    @property
    def objectives(self) -> list[MeasureSpec]:
        return [m for m in self.measures if m.is_objective]

    @property
    def metrics(self) -> list[MeasureSpec]:
        return [m for m in self.measures if not m.is_objective]

    def measure(self, key: str) -> MeasureSpec:
        for spec in self.measures:
            if spec.key == key:
                return spec
        raise StudyError(f"the study has no figure {key!r}; it has "
                         f"{[m.key for m in self.measures]}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["measures"] = [asdict(m) for m in self.measures]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluatorSpec:
        return cls(
            source=SourceSpec(**data["source"]),
            data=DataSpec(**data["data"]) if data.get("data") else None,
            measures=tuple(MeasureSpec(**m) for m in data["measures"]),
            prepare=data.get("prepare"), transform=data.get("transform"),
            threads=int(data.get("threads", 1)),
        )


def store_path(path: str | Path, base_dir: Path | None) -> str:
    """``path`` as stored in a spec: relative to ``base_dir`` (the study's folder) when it
    lies inside it, so a folder moved as a whole keeps working; absolute otherwise."""
    resolved = Path(path).resolve()
    if base_dir is not None:
        base = base_dir.resolve()
        if resolved == base or base in resolved.parents:
            return os.path.relpath(resolved, base)
    return str(resolved)


def resolve_path(stored: str, base_dir: Path | None) -> Path:
    """The file a stored path names (see :func:`store_path`)."""
    path = Path(stored)
    if not path.is_absolute() and base_dir is not None:
        return base_dir / path
    return path


__all__ = ["DATA_KINDS", "SOURCE_KINDS", "DataSpec", "EvaluatorSpec", "MeasureSpec",
           "SourceSpec", "resolve_path", "store_path"]

"""What a latency figure was measured on: the target, described as plain data, and its key.

A *target* is this machine's CPU (model, notable flags and a digest of all of them, logical
CPUs) with a backend and its settings (torch eager or ONNX Runtime with an execution
provider, intra-op threads, batch size) and the library versions. Its :func:`target_key`
(a short digest of the description) keys whatever is stored per target on disk, e.g. latency
lookup tables and the reference network's latency, so they are rebuilt when the target
changes; a study stores the description once per figure key (cheap), not once per figure.

>>> description = describe_target("torch", threads=1, batch_size=1)
>>> description["backend"], description["threads"], "cpu" in description["machine"]
('torch', 1, True)
>>> len(target_key(description))
16
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

from hwnas.machine import cpu_model_and_flags, load_average, notable_flags, package_version

PACKAGES = ("torch", "onnxruntime", "numpy")
CACHE_ENV = "HWNAS_CACHE_DIR"


def machine_description() -> dict[str, Any]:
    """This machine as it matters for latency: CPU model, notable flags, a digest of all
    flags, logical CPUs, OS kind and library versions (no host name, no load)."""
    model, flags = cpu_model_and_flags()
    return {"cpu": model, "cpu_flags": notable_flags(),
            "cpu_flags_sha": hashlib.sha256(" ".join(flags).encode()).hexdigest()[:12],
            "logical_cpus": os.cpu_count(), "system": platform.system(),
            "machine": platform.machine(), "python": platform.python_version(),
            "packages": {p: package_version(p) for p in PACKAGES}}


def describe_target(backend: str, threads: int, batch_size: int,
                    provider: str | None = None, **details: Any) -> dict[str, Any]:
    """The target a latency figure is measured on (``details``: anything else that
    changes the figure, e.g. the super-network a table covers)."""
    description: dict[str, Any] = {"backend": backend, "threads": threads,
                                   "batch_size": batch_size}
    if provider is not None:
        description["provider"] = provider
    description.update(details)
    description["machine"] = machine_description()
    return description


def target_key(description: dict[str, Any]) -> str:
    """A 16-hex-digit digest of ``description`` (canonical JSON)."""
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """Where per-target files are kept: ``$HWNAS_CACHE_DIR``, else ``~/.cache/hwnas``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "hwnas"


TARGETS_ATTR = "latency_targets"


def record_targets(study: Any) -> dict[str, Any]:
    """Store, once per study and machine, the target of every latency-like figure (a key
    whose settings name a backend): ``{key: {"target_key", "description"}}`` in the
    study's user attribute ``latency_targets``, one entry per machine's target key."""
    from hwnas.errors import HwnasError
    from hwnas.measure.measures import create_measure

    attrs = study.storage.get_study_user_attrs(study._study_id)
    recorded = dict(attrs.get(TARGETS_ATTR, {}))
    changed = False
    for spec in study.spec.evaluation.measures:
        if "backend" not in spec.settings:
            continue
        try:
            measure = create_measure(spec.kind, spec.settings)
        except HwnasError:  # a kind this process cannot build: nothing to describe
            continue
        latency = getattr(measure, "latency", measure)
        if not hasattr(latency, "target"):
            continue
        description = latency.target()
        key = target_key(description)
        entries = list(recorded.get(spec.key, []))
        if all(entry["target_key"] != key for entry in entries):
            entries.append({"target_key": key, "description": description})
            recorded[spec.key] = entries
            changed = True
    if changed:
        study.storage.set_study_user_attr(study._study_id, TARGETS_ATTR, recorded)
    return recorded


__all__ = ["CACHE_ENV", "TARGETS_ATTR", "cache_dir", "describe_target", "load_average",
           "machine_description", "record_targets", "target_key"]

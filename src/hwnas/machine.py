"""Facts about this machine that figures depend on, read without importing torch.

Both the latency target description (:mod:`hwnas.measure.hardware`) and the machines a
report lists (:mod:`hwnas.report.machine`) are built from these.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from importlib import metadata

#: CPU flags that change how fast a network runs (vector and matrix units)
NOTABLE_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8",
                 "fma", "neon", "asimd", "sve")


@lru_cache(maxsize=1)
def cpu_model_and_flags() -> tuple[str, tuple[str, ...]]:
    """The first CPU's model name and every flag it lists (sorted), from /proc/cpuinfo;
    ``platform.processor()`` and no flags where there is none."""
    model, flags, named = platform.processor() or platform.machine(), (), False
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                name = name.strip()
                if name == "model name" and value.strip() and not named:
                    model, named = value.strip(), True
                elif name in ("flags", "Features") and not flags:
                    flags = tuple(sorted(value.split()))
    except OSError:
        pass
    return model, flags


def notable_flags() -> list[str]:
    """The :data:`NOTABLE_FLAGS` this CPU has, in that order."""
    present = set(cpu_model_and_flags()[1])
    return [flag for flag in NOTABLE_FLAGS if flag in present]


def package_version(name: str) -> str:
    """The installed version of ``name`` (from its metadata: nothing is imported)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None

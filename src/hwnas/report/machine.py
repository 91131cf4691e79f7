"""The machine and software a study's figures come from, recorded with the study.

``run_search`` records the facts of each machine that measures into the study (user
attribute ``machines``, one entry per host), so a report states where its latencies were
measured, not only where the report was written. Nothing here imports torch.
"""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata
from typing import Any

MACHINES_ATTR = "machines"
#: CPU flags that change how fast a network runs (vector and matrix units)
NOTABLE_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8",
                 "fma", "neon", "asimd")
PACKAGES = ("hwnas", "torch", "onnxruntime", "optuna", "numpy")


def _cpu_model_and_flags() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                name = name.strip()
                if name == "model name" and value.strip():
                    model = value.strip()
                elif name in ("flags", "Features") and not flags:
                    present = set(value.split())
                    flags = [f for f in NOTABLE_FLAGS if f in present]
    except OSError:
        pass
    return model, flags


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the figures depend on (read from metadata, so
    nothing is imported)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_facts() -> dict[str, Any]:
    """This machine: host, CPU model and notable flags, logical CPUs, OS, Python, package
    versions and the load average when asked."""
    model, flags = _cpu_model_and_flags()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = []
    return {"host": socket.gethostname(), "cpu": model, "cpu_flags": flags,
            "logical_cpus": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "packages": package_versions(),
            "load_average": load}


def record_machine(study: Any) -> None:
    """Add this machine's facts to ``study`` (once per host and software versions)."""
    facts = machine_facts()
    attrs = study.storage.get_study_user_attrs(study._study_id)
    machines = list(attrs.get(MACHINES_ATTR, []))
    same = [m for m in machines if m.get("host") == facts["host"]
            and m.get("packages") == facts["packages"] and m.get("cpu") == facts["cpu"]]
    if same:
        return
    machines.append(facts)
    study.storage.set_study_user_attr(study._study_id, MACHINES_ATTR, machines)


def recorded_machines(study: Any) -> list[dict[str, Any]]:
    """The machines that measured ``study`` (empty if none was recorded)."""
    return list(study.storage.get_study_user_attrs(study._study_id).get(MACHINES_ATTR, []))


def describe_machine(facts: dict[str, Any]) -> str:
    """One line: CPU model (flags), CPUs, host."""
    flags = f" ({', '.join(facts['cpu_flags'])})" if facts.get("cpu_flags") else ""
    return (f"{facts.get('cpu', '?')}{flags}, {facts.get('logical_cpus', '?')} logical CPUs, "
            f"host {facts.get('host', '?')}")

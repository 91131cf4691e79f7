"""The machine and software a study's figures come from, recorded with the study.

``run_search`` records the facts of each machine that measures into the study (user
attribute ``machines``, one entry per host), so a report states where its latencies were
measured, not only where the report was written. Nothing here imports torch.
"""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

from hwnas.machine import cpu_model_and_flags, load_average, notable_flags, package_version

MACHINES_ATTR = "machines"
PACKAGES = ("hwnas", "torch", "onnxruntime", "optuna", "numpy")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the figures depend on (nothing is imported)."""
    return {name: package_version(name) for name in PACKAGES}


def machine_facts() -> dict[str, Any]:
    """This machine: host, CPU model and notable flags, logical CPUs, OS, Python, package
    versions and the load average when asked."""
    return {"host": socket.gethostname(), "cpu": cpu_model_and_flags()[0],
            "cpu_flags": notable_flags(),
            "logical_cpus": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "packages": package_versions(),
            "load_average": load_average() or []}


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

"""Conformance checks for hwnas plug-ins, importable from any test suite (no pytest needed)."""

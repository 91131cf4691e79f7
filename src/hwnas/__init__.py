"""hwnas: hardware-aware neural architecture search."""

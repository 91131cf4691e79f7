"""Evaluation on many workers (Ray) behind the same executor interface as in-process
evaluation: ``Study.optimize(n, workers=N)`` or ``hwnas search --workers N``."""

from hwnas.distributed.ray_workers import RayExecutor

__all__ = ["RayExecutor"]

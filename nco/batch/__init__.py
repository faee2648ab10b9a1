"""Batch solving: (instance x method x budget) tasks on Dask distributed, streamed to ``OUT/``
(``results.csv``, one row per finished task, and ``solutions/``), resumable and fault tolerant.

``run_batch`` is imported on first use, so ``import nco`` does not import Dask.
"""

from importlib import import_module

from nco.batch.tasks import Recipe, Task, plan

__all__ = ["BatchResult", "Recipe", "Task", "connect", "plan", "run_batch"]


def __getattr__(name: str):
    if name in ("BatchResult", "connect", "run_batch"):
        return getattr(import_module("nco.batch.engine"), name)
    raise AttributeError(f"module 'nco.batch' has no attribute {name!r}")

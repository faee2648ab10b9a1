"""Batch solving: (instance x method x budget) tasks on Dask distributed, streamed to ``OUT/``
(``results.csv``, one row per finished task, and ``solutions/``), resumable and fault tolerant.

Importing this package imports Dask; ``nco`` itself imports it only where a batch runs.
"""

from nco.batch.engine import BatchResult, connect, run_batch
from nco.batch.tasks import Recipe, Task, plan

__all__ = ["BatchResult", "Recipe", "Task", "connect", "plan", "run_batch"]

"""Run batch tasks on Dask distributed and stream their rows to an ``OUT`` directory.

By default an embedded ``LocalCluster`` of ``workers`` processes with one thread each: one solver
per core, so a 1 s budget gets a core for 1 s. ``scheduler`` connects to a running cluster instead
(``dask scheduler`` / ``dask worker --nthreads 1``, dask-jobqueue, Kubernetes). Dask reschedules
the tasks of a worker that dies; a task that more than ``allowed_failures`` workers died running
is recorded as an error (``KilledWorker``). Rows are written on this (the client) machine, so
workers need no shared disk.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from uuid import uuid4

from distributed import WorkerPlugin
from tqdm import tqdm

from nco.batch.store import ResultStore
from nco.batch.tasks import Recipe, Source, Task, run_task, solution_stem
from nco.method_spec import parse_method
from nco.methods import SOLVER_MODULES

__all__ = ["BatchResult", "connect", "run_batch"]


@dataclass
class BatchResult:
    rows: list[dict[str, Any]]  # newest row of every task of the batch that has one, in task order
    ran: int  # tasks run by this call
    skipped: int  # tasks already finished in OUT before this call
    interrupted: bool

    @property
    def failed(self) -> int:
        return sum(row["status"] != "ok" for row in self.rows)


def run_batch(
    tasks: Sequence[Task],
    sources: Mapping[str, Source],
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retry_errors: bool = False,
    allowed_failures: int = 3,
    progress: bool = True,
) -> BatchResult:
    """Run the tasks of ``tasks`` that ``out`` has no row for yet (and those that failed with an
    error, with ``retry_errors``). Ctrl-C stops early and keeps every finished row."""
    store = ResultStore(out)
    done = {key for key, row in store.latest().items() if not (retry_errors and row["status"] == "error")}
    pending = [task for task in tasks if task.key not in done]
    interrupted = False
    if pending:
        try:
            with connect(workers, scheduler, allowed_failures, sorted({t.method for t in pending})) as client, store:
                _stream(client, pending, sources, store, progress)
        except KeyboardInterrupt:
            interrupted = True
    latest = store.latest()
    rows = [latest[task.key] for task in tasks if task.key in latest]
    return BatchResult(rows, store.appended, len(tasks) - len(pending), interrupted)


@contextmanager
def connect(
    workers: int | None = None, scheduler: str | None = None, allowed_failures: int = 3, methods: Sequence[str] = ()
) -> Iterator[Any]:
    """A Dask client: on ``scheduler`` if given, else on an embedded loopback cluster whose
    scheduler gives up on a task once more than ``allowed_failures`` workers died running it."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            client.register_plugin(OneSolverPerCore(methods, embedded=False), name="nco-one-solver-per-core")
            yield client
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}), _sigint_ignored():
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        client.register_plugin(OneSolverPerCore(methods, embedded=True), name="nco-one-solver-per-core")
        yield client


def _stream(client: Any, tasks: list[Task], sources: Mapping[str, Source], store: ResultStore, progress: bool) -> None:
    from distributed import as_completed

    names = sorted({task.instance for task in tasks})
    handles = _ship(client, {name: sources[name] for name in names})
    token = uuid4().hex[:8]  # fresh keys per run: a shared scheduler may still hold an old run's
    futures = {
        client.submit(
            run_task, handles[task.instance], task, key=f"{solution_stem(task.key)}-{token}", pure=False
        ): task
        for task in tasks
    }
    finished = failed = infeasible = 0
    bar = tqdm(total=len(tasks), desc="solve-many", unit="task", disable=not progress, dynamic_ncols=True)
    try:
        for future in as_completed(futures):
            task = futures.pop(future)
            try:
                row, solution = future.result()
            except Exception as error:  # noqa: BLE001 - e.g. KilledWorker: its workers kept dying
                row = {"instance": task.instance, "method": task.method, "budget": task.budget, "seed": task.seed,
                       "status": "error", "feasible": False, "error": f"{type(error).__name__}: {error}"}  # fmt: skip
                solution = None
            future.release()
            store.append(row, solution)
            finished += 1
            failed += row["status"] != "ok"
            infeasible += row["status"] == "ok" and not row["feasible"]
            bar.set_postfix(failed=failed, infeasible=infeasible, refresh=False)
            bar.update()
    except KeyboardInterrupt:
        client.cancel(list(futures))
        bar.write(f"interrupted: {finished} of {len(tasks)} tasks finished here; the same --out resumes the rest")
        raise
    finally:
        bar.close()


def _ship(client: Any, sources: dict[str, Source]) -> dict[str, Any]:
    """Recipes go as they are (a few bytes per task); instances are scattered once each."""
    arrays = {name: source for name, source in sources.items() if not isinstance(source, Recipe)}
    shipped: dict[str, Any] = {name: source for name, source in sources.items() if isinstance(source, Recipe)}
    if arrays:
        shipped.update(zip(arrays, client.scatter(list(arrays.values()), hash=False), strict=True))
    return shipped


class OneSolverPerCore(WorkerPlugin):
    """Torch on one thread, and the batch's solvers imported before the first task arrives (so a
    task's wall time is its solver's, not Python's import time). Workers of the embedded cluster
    also ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and only the client
    should handle it (it cancels the tasks and closes the cluster)."""

    def __init__(self, methods: Sequence[str], embedded: bool) -> None:
        specs = [parse_method(method) for method in methods]  # "hybrid:ga": hybrid and ga
        names = {spec.method for spec in specs} | {str(spec.options.get("refiner", "")) for spec in specs}
        self.modules = sorted(SOLVER_MODULES[name] for name in names if name in SOLVER_MODULES)
        self.embedded = embedded

    def setup(self, worker: Any) -> None:
        import torch

        torch.set_num_threads(1)
        if self.embedded and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for module in self.modules:
            try:
                import_module(module)
            except ImportError:  # a broken backend fails its own tasks, with the reason, not the worker
                pass


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """While the embedded workers are spawned: they inherit the ignored SIGINT (Python keeps an
    inherited SIG_IGN), so a Ctrl-C during their start-up cannot make them print tracebacks."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

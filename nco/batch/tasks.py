"""What one batch task is, and what a worker does with it.

A task is (instance, method, budget, seed); its key (instance, method, budget) names its row in
``results.csv`` and its solution file, so a re-run can tell what is finished. Generated instances
travel as a :class:`Recipe` (problem, size, city, seed: a few bytes) and are sampled on the worker;
instances read from files or given in memory are scattered to the cluster once each.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nco.method_spec import parse_method
from nco_core.errors import UnsupportedFeature
from nco_core.instance import Instance
from nco_core.solution import Solution

__all__ = ["Recipe", "Task", "plan", "run_task", "solution_stem"]


@dataclass(frozen=True)
class Recipe:
    """A generated instance, rebuilt on the worker by :func:`nco.sample_instance`."""

    problem: str
    size: int
    city: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.problem}{self.size}-{self.city}-s{self.seed}"

    def build(self) -> Instance:
        from envs.generators import sample_instance

        return sample_instance(self.problem, self.size, city=self.city, seed=self.seed).replace(name=self.name)


Source = Recipe | Instance


@dataclass(frozen=True)
class Task:
    instance: str
    method: str  # a configuration of nco.method_spec: "hybrid:ga", "pyvrp+neighbours=learned", ...
    budget: float
    seed: int = 0

    @property
    def key(self) -> tuple[str, str, float]:
        return (self.instance, self.method, self.budget)


def plan(sources: Sequence[Source], methods: list[str], budgets: list[float], seed: int = 0) -> list[Task]:
    """Every method at every budget on every source, in ``nco compare``'s order; rejects unknown
    methods and duplicate instance names up front, so a typo costs no cluster time."""
    for method in methods:
        parse_method(method)
    for budget in budgets:
        if not budget > 0:
            raise ValueError(f"time limit must be positive, got {budget}")
    names = [source.name for source in sources]
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise ValueError(f"instance {index} has the name {name!r} of an earlier one; tasks are keyed by name")
        seen.add(name)
    return [Task(name, method, float(budget), seed) for name in names for budget in budgets for method in methods]


def solution_stem(key: tuple[str, str, float]) -> str:
    """``<instance>__<method>__<budget>``, with characters unsafe in file names replaced."""
    instance, method, budget = key
    return "__".join(re.sub(r"[^\w.+-]", "_", part) for part in (instance, method, f"{budget:g}"))


def run_task(source: Source, task: Task) -> tuple[dict[str, Any], Solution | None]:
    """Build the instance and solve it: the row for ``results.csv`` and the solution (None when the
    task failed). Every exception becomes the row's error, so one bad task never stops a batch."""
    started = time.time()
    clock = time.perf_counter()
    row: dict[str, Any] = {"instance": task.instance, "method": task.method, "budget": task.budget, "seed": task.seed}
    solution = None
    try:
        instance = source.build() if isinstance(source, Recipe) else source
        row["best_known"] = instance.best_known_cost
        from nco.api import solve

        spec = parse_method(task.method)
        solution = solve(instance, method=spec.method, time_limit=task.budget, seed=task.seed, **spec.options)
        row.update(status="ok", cost=solution.cost, feasible=solution.feasible, runtime=solution.runtime)
        row["neural_time"] = float(solution.info.get("neural_time", 0.0))
        row["violations"] = "; ".join(v.message for v in solution.violations[:3])
        if instance.best_known_cost and solution.feasible:
            row["gap"] = 100.0 * (solution.cost - instance.best_known_cost) / abs(instance.best_known_cost)
    except UnsupportedFeature as error:
        row.update(status="unsupported", feasible=False, error=str(error))
    except Exception as error:  # noqa: BLE001 - recorded in the row; the batch goes on
        where = traceback.extract_tb(error.__traceback__)[-1]
        row.update(
            status="error",
            feasible=False,
            error=f"{type(error).__name__}: {error} ({os.path.basename(where.filename)}:{where.lineno})",
        )
    row.update(
        wall_time=time.perf_counter() - clock,
        worker=_worker_address(),
        pid=os.getpid(),
        started=started,
        finished=time.time(),
    )
    return row, solution


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # called outside a Dask worker (tests, debugging)
        return "local"

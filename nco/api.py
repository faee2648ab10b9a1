"""``nco.solve``: one entry point for every method, classical or learned."""

from __future__ import annotations

from typing import Any

from nco.instance import Instance
from nco.solution import Solution
from solvers import get_solver

__all__ = ["solve"]


def solve(
    instance: Instance,
    method: str = "pyvrp",
    *,
    time_limit: float = 1.0,
    seed: int = 0,
    initial: Solution | None = None,
    **options: Any,
) -> Solution:
    """Solve ``instance`` with ``method`` within ``time_limit`` seconds (wall clock).

    ``initial`` warm-starts methods that accept a starting solution. The result is always scored
    by nco's evaluator; check ``solution.feasible`` (a method never claims feasibility itself).
    """
    if not isinstance(instance, Instance):
        raise TypeError(f"solve() needs an nco.Instance, got {type(instance).__name__}")
    if not time_limit > 0:
        raise ValueError(f"time_limit must be positive, got {time_limit}")
    return get_solver(method)(instance, time_limit=time_limit, seed=seed, initial=initial, **options)

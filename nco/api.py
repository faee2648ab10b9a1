"""``nco.solve``: one entry point for every method, classical or learned."""

from __future__ import annotations

from typing import Any

from nco.methods import get_solver
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.budget import Deadline
from solvers.stop import Budget, Criterion

__all__ = ["solve"]


def solve(
    instance: Instance,
    method: str = "pyvrp",
    *,
    time_limit: float | Deadline | None = None,
    stop: Criterion | Budget | None = None,
    seed: int = 0,
    initial: Solution | None = None,
    **options: Any,
) -> Solution:
    """Solve ``instance`` with ``method`` until ``stop`` fires, within ``time_limit`` seconds
    (wall clock, from this call to its return: conversion, model building and the final
    evaluation included).

    ``stop`` combines :mod:`solvers.stop` criteria with ``|`` (the first that fires wins), e.g.
    ``MaxRuntime(5) | NoImprovement(200)``; ``time_limit`` is the shorthand for ``MaxRuntime``
    and, with neither bounding the runtime, the default of 1 s applies: every call has a budget.
    ``time_limit`` is a number in ``(0, 1e6]`` and ``seed`` an integer in ``[0, 2**32 - 1]`` for
    every method (:mod:`solvers.budget`). ``options`` are the method's (its options dataclass,
    ``get_solver(method).options_type``; an unknown one raises ``UnknownOption``). ``initial``
    warm-starts methods that accept a starting solution. The result is always scored by nco's
    evaluator; check ``solution.feasible`` (a method never claims feasibility itself). Importing
    a backend the first time, like loading a checkpoint, is a one-time cost per process and is
    not charged to the budget.
    """
    if not isinstance(instance, Instance):
        raise TypeError(f"solve() needs an nco.Instance, got {type(instance).__name__}")
    return get_solver(method)(instance, time_limit=time_limit, stop=stop, seed=seed, initial=initial, **options)

"""``nco.solve``: one entry point for every method, classical or learned."""

from __future__ import annotations

from typing import Any

from nco_core.instance import Instance
from nco_core.solution import Solution
from nco.methods import get_solver, prepare
from solvers.budget import Deadline, check_seed

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
    """Solve ``instance`` with ``method`` within ``time_limit`` seconds (wall clock, from this
    call to its return: conversion, model building and the final evaluation included).

    ``time_limit`` is a number in ``(0, 1e6]`` and ``seed`` an integer in ``[0, 2**32 - 1]`` for
    every method (:mod:`solvers.budget`). ``initial`` warm-starts methods that accept a starting
    solution. The result is always scored by nco's evaluator; check ``solution.feasible`` (a
    method never claims feasibility itself). Importing a backend the first time, like loading a
    checkpoint, is a one-time cost per process and is not charged to the budget.
    """
    if not isinstance(instance, Instance):
        raise TypeError(f"solve() needs an nco.Instance, got {type(instance).__name__}")
    solver = get_solver(method)
    prepare(method, instance, options)  # imports, checkpoint loading and calibration: before the clock starts
    deadline = Deadline.of(time_limit)
    return solver(instance, time_limit=deadline, seed=check_seed(seed), initial=initial, **options)

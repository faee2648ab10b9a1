"""The classical backends by name: what a layer below the method registry (label writing, the
validation reference in ``nco.training``) may solve with.

``nco.methods.get_solver`` extends this with the learned methods and ``neighbours="learned"``.
Modules are imported on first use, so one broken backend cannot break the rest.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from solvers.base import Solver

__all__ = ["SOLVER_MODULES", "get_solver"]

# backend name -> module defining its ``SOLVER``
SOLVER_MODULES: dict[str, str] = {
    "pyvrp": "solvers.pyvrp_solver",
    "ortools": "solvers.ortools_solver",
    "vroom": "solvers.vroom_solver",
}


def get_solver(name: str, modules: dict[str, str] = SOLVER_MODULES) -> Solver[Any]:
    """The solver registered as ``name`` in ``modules``."""
    try:
        module = modules[name]
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; choose one of {sorted(modules)}") from None
    solver: Solver[Any] = import_module(module).SOLVER
    return solver

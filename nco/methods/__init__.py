"""Every solving method behind one typed contract, registered by name: the classical backends of
``solvers`` and the learned methods (``neural``, ``hybrid``) of this package.

:func:`get_solver` returns a :class:`solvers.base.Solver`: an options dataclass per method
(``solver.options_type``; unknown options raise :class:`UnknownOption`), ``prepare`` for the
one-time costs, and ``solve(instance, options, *, budget, seed, initial)`` on a running
:class:`solvers.stop.Budget`; calling it with keywords, ``solver(instance, time_limit=...,
stop=..., seed=..., initial=..., **options)``, does all three, as ``nco.solve`` does. Every result
is built with ``Solution.of`` (so the evaluator scores it); a solver that cannot model a feature
the instance uses raises :class:`UnsupportedFeature` before solving.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from nco_core.errors import UnsupportedFeature
from solvers.base import Solver

__all__ = ["SOLVER_MODULES", "UnsupportedFeature", "get_solver"]

# method name -> module defining its ``SOLVER``; imported on first use so one broken backend cannot break the rest
SOLVER_MODULES: dict[str, str] = {
    "pyvrp": "nco.methods.neighbours",  # the PyVRP backend plus neighbours="learned"
    "ortools": "solvers.ortools_solver",
    "vroom": "solvers.vroom_solver",
    "neural": "nco.methods.neural",
    "hybrid": "nco.methods.hybrid",
}


def get_solver(method: str) -> Solver[Any]:
    """The solver registered as ``method``."""
    try:
        module = SOLVER_MODULES[method]
    except KeyError:
        raise ValueError(f"unknown solver {method!r}; choose one of {sorted(SOLVER_MODULES)}") from None
    solver: Solver[Any] = import_module(module).SOLVER
    return solver

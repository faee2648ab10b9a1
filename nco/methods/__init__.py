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

from typing import Any

from nco_core.errors import UnsupportedFeature
from solvers import registry
from solvers.base import Solver

__all__ = ["SOLVER_MODULES", "UnsupportedFeature", "get_solver"]

# method name -> module defining its ``SOLVER``: the classical backends, PyVRP with learned
# neighbour lists, and the learned methods
SOLVER_MODULES: dict[str, str] = {
    **registry.SOLVER_MODULES,
    "pyvrp": "nco.methods.neighbours",  # the PyVRP backend plus neighbours="learned"
    "neural": "nco.methods.neural",
    "hybrid": "nco.methods.hybrid",
}


def get_solver(method: str) -> Solver[Any]:
    """The solver registered as ``method``."""
    return registry.get_solver(method, SOLVER_MODULES)

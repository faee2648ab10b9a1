"""Every solving method behind one signature, registered by name: the classical backends of
``solvers`` and the learned methods (``neural``, ``hybrid``) of this package.

Every solver takes ``(instance, *, time_limit, seed, initial=None)`` and returns a
:class:`nco.Solution` built with ``Solution.of`` (so the evaluator scores it). A solver that cannot
model a feature the instance uses raises :class:`UnsupportedFeature` before solving.
``time_limit`` is seconds or a running :class:`solvers.budget.Deadline` (``nco.solve`` starts one at
its entry and the hybrid hands its refiner what is left of its own); every solver validates both
arguments with :mod:`solvers.budget` and charges everything from entry to return to the budget.
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable

from nco_core.errors import UnsupportedFeature

__all__ = ["SOLVER_MODULES", "UnsupportedFeature", "get_solver", "prepare"]

# method name -> module defining ``solve``; imported lazily so one broken backend cannot break the rest
SOLVER_MODULES: dict[str, str] = {
    "pyvrp": "solvers.pyvrp_solver",
    "ortools": "solvers.ortools_solver",
    "vroom": "solvers.vroom_solver",
    "neural": "nco.methods.neural",
    "hybrid": "nco.methods.hybrid",
}


def get_solver(method: str) -> Callable:
    try:
        module = SOLVER_MODULES[method]
    except KeyError:
        raise ValueError(f"unknown solver {method!r}; choose one of {sorted(SOLVER_MODULES)}") from None
    return import_module(module).solve


def prepare(method: str, instance, options: dict) -> None:
    """Pay ``method``'s one-time costs per process for ``instance`` (imports; loading and
    calibrating a checkpoint, compiling the env kernel) before a budget's clock starts: a
    backend module may define ``prepare(instance, **options)`` for them."""
    get_solver(method)
    hook = getattr(import_module(SOLVER_MODULES[method]), "prepare", None)
    if hook is not None:
        hook(instance, **options)

"""PyVRP (iterated local search) backend.

The model PyVRP sees, built from :func:`solvers.scaling.integer_data`:

* one routing profile per vehicle type whose *distance* matrix is that type's whole arc objective
  (``unit_distance_cost * distance`` plus the preference shift) with ``unit_distance_cost = 1``,
  and whose duration matrix is the type's travel times; ``unit_duration_cost`` prices the route
  duration (travel, service and waiting, as in nco's evaluator), so the objective is exactly the
  evaluator's up to the constant preference shift and integer rounding;
* ``allowed``: PyVRP has no vehicle/client compatibility, so arcs into a client a type may not
  serve cost ``big`` (more than any whole finite route) and the type's ``max_distance`` is set
  just below ``big``: such a route is infeasible for PyVRP, not merely expensive. Forbidden
  (infinite) arcs get the same treatment. The evaluator confirms it in the tests;
* open routes: arcs back to the depot cost and take nothing;
* strict (linehaul-first) backhauls cannot be expressed: :class:`UnsupportedFeature`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyvrp
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.stop import MaxRuntime

from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.budget import Deadline, check_seed, finish_reserve
from nco_core.errors import UnsupportedFeature, reject_options
from solvers.neighbours import neighbourhood, ready
from solvers.scaling import IntegerData, integer_data

__all__ = ["build_data", "routes_of", "search_components", "solve", "solver_params"]

NAME = "pyvrp"
_UNSUPPORTED = ("strict_backhaul",)
# Seconds per N^2 of the exhaustive local search from a random start: 3 ms at N = 100 and 0.3 s
# at N = 1000 measured on the shared 2-core machine (an over-estimate in between); a 14,000-node
# instance would spend about a minute in it.
_POLISH_COST = 3e-7


def build_data(instance: Instance, scaled: IntegerData) -> pyvrp.ProblemData:
    """PyVRP's ``ProblemData`` for ``instance`` (node ``i`` = location ``i``, client ``i - 1``)."""
    size = instance.num_nodes
    coords = instance.coordinates if instance.coordinates is not None else np.zeros((size, 2))
    locations = [pyvrp.Location(float(x), float(y)) for x, y in coords]
    windows = scaled.windows
    depot = pyvrp.Depot(0, tw_early=int(windows[0, 0]), tw_late=scaled.route_end)
    clients = [
        pyvrp.Client(
            i,
            delivery=[int(scaled.delivery[i])],
            pickup=[int(scaled.pickup[i])],
            service_duration=int(scaled.service[i]),
            tw_early=int(windows[i, 0]),
            tw_late=int(windows[i, 1]),
        )
        for i in range(1, size)
    ]
    forbidding = bool(np.any(scaled.arc_cost >= scaled.cost.big))
    vehicle_types = []
    for k, vehicle in enumerate(instance.vehicle_types):
        extra: dict[str, Any] = {}
        if scaled.max_duration[k] < scaled.time.big:
            extra["shift_duration"] = int(scaled.max_duration[k])
        if forbidding:
            extra["max_distance"] = int(scaled.cost.big - 1)
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=vehicle.count,
                capacity=[int(scaled.capacity[k])],
                fixed_cost=int(scaled.fixed_cost[k]),
                tw_early=int(windows[0, 0]),
                tw_late=scaled.route_end,
                unit_distance_cost=1,
                unit_duration_cost=int(scaled.duration_rate[k]),
                profile=k,
                **extra,
            )
        )
    distances, durations = [], []
    for k, vehicle in enumerate(instance.vehicle_types):
        cost = scaled.arc_cost[k].copy()
        travel = scaled.travel[vehicle.profile].copy()
        np.fill_diagonal(cost, 0)
        np.fill_diagonal(travel, 0)
        distances.append(cost)
        durations.append(travel)
    return pyvrp.ProblemData(locations, clients, [depot], vehicle_types, distances, durations)


def solver_params(scaled: IntegerData) -> pyvrp.SolveParams:
    """PyVRP's default penalty cap (1e5 per unit of excess load or time) is tuned for costs of
    the same magnitude as loads; after scaling, one arc can cost far more, and the search would
    stop caring about feasibility. Cap the penalty at ten times the largest arc cost instead."""
    default = pyvrp.PenaltyParams()
    # ... but keep penalty * (largest possible excess) far from int64 overflow
    ceiling = 2.0**59 / max(scaled.cost.big, scaled.time.big, scaled.load.big)
    wanted = max(default.max_penalty, 10.0 * scaled.cost.largest)
    penalty = dataclasses.replace(default, max_penalty=min(wanted, ceiling))
    return pyvrp.SolveParams(penalty=penalty)


def search_components(
    data: pyvrp.ProblemData, params: pyvrp.SolveParams, seed: int, neighbours: dict | None = None
) -> tuple[LocalSearch, pyvrp.PenaltyManager, pyvrp.RandomNumberGenerator]:
    """PyVRP's local search and penalty manager, set up as ``pyvrp.solve`` does (shared with the GA);
    ``neighbours`` (:mod:`solvers.neighbours`) replaces PyVRP's proximity neighbourhood."""
    rng = pyvrp.RandomNumberGenerator(seed=seed)
    neighbours = neighbours if neighbours is not None else compute_neighbours(data, params.neighbourhood)
    search = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for operator in params.operators:
        if operator.supports(data):
            search.add_operator(operator(data))
    penalties = pyvrp.PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
    return search, penalties, rng


def routes_of(solution: pyvrp.Solution) -> tuple[list[list[int]], list[int]]:
    """PyVRP routes as nco routes (customer node ids) and their vehicle types."""
    routes = [[a.idx + 1 for a in route.schedule() if a.is_client()] for route in solution.routes()]
    return routes, [route.vehicle_type() for route in solution.routes()]


def _warm_start(data: pyvrp.ProblemData, initial: Solution | None) -> tuple[pyvrp.Solution | None, str]:
    if initial is None:
        return None, "none"
    try:
        routes = [
            pyvrp.Route(data, [node - 1 for node in route], k)
            for route, k in zip(initial.routes, initial.vehicle_types)
        ]
        start = pyvrp.Solution(data, routes)
    except (RuntimeError, ValueError, IndexError) as error:
        return None, f"rejected ({error}); cold start"
    if not start.is_feasible():
        # PyVRP searches from infeasible solutions too (penalised), so it is still a useful start.
        return start, "used (infeasible in PyVRP's integer model)"
    return start, "used"


def solve(
    instance: Instance,
    *,
    time_limit: float | Deadline,
    seed: int,
    initial: Solution | None = None,
    neighbours: str | np.ndarray = "proximity",
    **options: Any,
) -> Solution:
    """Solve with PyVRP's iterated local search for ``time_limit`` wall-clock seconds in total
    (conversion, set-up and the final evaluation included).

    ``neighbours``: the local search's neighbour lists, ``"proximity"`` (PyVRP's) or ``"learned"``
    (arc-scored; its inference is charged to the budget), see :mod:`solvers.neighbours`. No other
    backend options are accepted, so a misspelt option fails loudly instead of being ignored.
    """
    deadline = Deadline.of(time_limit)
    seed = check_seed(seed)
    reject_options("pyvrp", options, ("neighbours",))
    used = [name for name in _UNSUPPORTED if instance.features()[name]]
    if used:
        raise UnsupportedFeature(NAME, used[0])
    scaled = integer_data(instance)
    data = build_data(instance, scaled)
    start, warm = _warm_start(data, initial)
    params = solver_params(scaled)
    scorer, deadline = ready(neighbours, instance.features(), deadline)
    lists, listed = neighbourhood(neighbours, data, params.neighbourhood, instance.features(), scorer)
    search, penalties, rng = search_components(data, params, seed, lists)
    # PyVRP polishes its own random start with an exhaustive local search before iterating; a
    # warm start (say, a neural solution) gets the same polish, or the iterations, which only
    # perturb locally, would stay near a poor start for much of a short budget. The polish cannot
    # be interrupted: it is skipped when predicted to take longer than all that is left (huge N).
    start = start if start is not None else pyvrp.Solution.make_random(data, rng)
    reserve = finish_reserve(instance.num_nodes)
    predicted = _POLISH_COST * instance.num_nodes**2
    if predicted <= deadline.remaining(reserve):
        start = search(start, penalties.max_cost_evaluator(), exhaustive=True)
        polish = "done"
    else:
        polish = f"skipped: predicted {predicted:.3f} s, more than the {deadline.remaining(reserve):.3f} s left"
    search_time = deadline.remaining(reserve)
    result = pyvrp.IteratedLocalSearch(data, penalties, search, start, params.ils).run(
        MaxRuntime(search_time), collect_stats=False
    )
    best = result.best
    routes, types = routes_of(best)
    backend_cost = best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost()
    info = {
        "backend_feasible": bool(best.is_feasible()),
        "backend_cost": scaled.cost.value(backend_cost) - scaled.preference_offset,
        "iterations": result.num_iterations,
        "search_time": search_time,
        "polish": polish,
        "seed": seed,
        "warm_start": warm,
        **listed,
        **scaled.describe(),
    }
    return Solution.of(instance, routes, types, method=NAME, runtime=deadline.elapsed(), info=info)

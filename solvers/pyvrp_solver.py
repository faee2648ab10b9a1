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
* depots: nco's depots are PyVRP's depots (locations ``0 .. D - 1``), client ``c`` is node
  ``D + c``; each vehicle type starts and ends at its own depots. An open-ended type returns to
  its start depot over arcs that cost and take nothing;
* depot opening hours and shifts: the vehicle type's ``tw_early`` / ``tw_late`` (earliest
  departure, latest finish: :attr:`IntegerData.shift`), so an open route's finish is its last
  service's end, as in the evaluator;
* optional clients: PyVRP's own ``prize`` / ``required``; ``max_tasks``: a second load dimension
  in which every client weighs 1; ``max_distance``: PyVRP's ``max_distance`` on the arc costs
  (rounded up), exact only while the arc cost is ``unit_distance_cost * distance``, so with
  preferences or a zero distance cost it is :class:`UnsupportedFeature`;
* strict (linehaul-first) backhauls cannot be expressed: :class:`UnsupportedFeature`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pyvrp
import pyvrp.stop
from pyvrp.search import LocalSearch, PerturbationManager

from nco_core.errors import UnsupportedFeature
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.base import Options, Solver
from solvers.budget import finish_reserve
from solvers.neighbours import Neighbours, neighbourhood
from solvers.scaling import IntegerData, integer_data
from solvers.stop import Budget

__all__ = [
    "SOLVER",
    "PyVRP",
    "PyVRPOptions",
    "build_data",
    "pyvrp_stop",
    "routes_of",
    "search_components",
    "solver_params",
]

NAME = "pyvrp"
_UNSUPPORTED = ("strict_backhaul",)
# Seconds per N^2 of the exhaustive local search from a random start: 3 ms at N = 100 and 0.3 s
# at N = 1000 measured on the shared 2-core machine (an over-estimate in between); a 14,000-node
# instance would spend about a minute in it.
_POLISH_COST = 3e-7


def build_data(instance: Instance, scaled: IntegerData) -> pyvrp.ProblemData:
    """PyVRP's ``ProblemData`` for ``instance`` (node ``i`` = location ``i``; depot ``d`` = node
    ``d``, client ``c`` = node ``num_depots + c``)."""
    size, depots = instance.num_nodes, instance.num_depots
    features = instance.features()
    limited = [k for k, v in enumerate(instance.vehicle_types) if np.isfinite(v.max_distance)]
    if limited and (features["preference"] or any(instance.vehicle_types[k].unit_distance_cost == 0 for k in limited)):
        raise UnsupportedFeature(NAME, "max_distance with preferences or a zero unit_distance_cost")
    coords = instance.coordinates if instance.coordinates is not None else np.zeros((size, 2))
    locations = [pyvrp.Location(float(x), float(y)) for x, y in coords]
    windows = scaled.windows
    counting = features["max_tasks"]  # a second load dimension: every client weighs one task
    required = instance.is_required
    clients = [
        pyvrp.Client(
            i,
            delivery=[int(scaled.delivery[i])] + [1] * counting,
            pickup=[int(scaled.pickup[i])] + [0] * counting,
            service_duration=int(scaled.service[i]),
            tw_early=int(windows[i, 0]),
            tw_late=int(windows[i, 1]),
            prize=int(scaled.prize[i]),
            required=bool(required[i]),
        )
        for i in range(depots, size)
    ]
    forbidding = bool(np.any(scaled.arc_cost >= scaled.cost.big))
    vehicle_types = []
    for k, vehicle in enumerate(instance.vehicle_types):
        extra: dict[str, Any] = {}
        if scaled.max_duration[k] < scaled.time.big:
            extra["shift_duration"] = int(scaled.max_duration[k])
        limits = [scaled.cost.big - 1] if forbidding else []
        if k in limited and scaled.max_distance_cost is not None:  # set whenever a type is limited
            limits.append(int(scaled.max_distance_cost[k]))
        if limits:
            extra["max_distance"] = int(min(limits))
        tasks = [instance.num_customers if vehicle.max_tasks is None else vehicle.max_tasks] * counting
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=vehicle.count,
                capacity=[int(scaled.capacity[k])] + tasks,
                start_depot=vehicle.start_depot,
                end_depot=vehicle.start_depot if vehicle.end_depot is None else vehicle.end_depot,
                fixed_cost=int(scaled.fixed_cost[k]),
                tw_early=int(scaled.shift[k, 0]),
                tw_late=int(scaled.shift[k, 1]),
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
        if vehicle.end_depot is None:
            travel[:, :depots] = 0  # the dummy return of an open route
        np.fill_diagonal(cost, 0)
        np.fill_diagonal(travel, 0)
        distances.append(cost)
        durations.append(travel)
    depot_list = [pyvrp.Depot(d) for d in range(depots)]
    return pyvrp.ProblemData(locations, clients, depot_list, vehicle_types, distances, durations)


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
    data: pyvrp.ProblemData, params: pyvrp.SolveParams, seed: int, neighbours: dict
) -> tuple[LocalSearch, pyvrp.PenaltyManager, pyvrp.RandomNumberGenerator]:
    """PyVRP's local search and penalty manager, set up as ``pyvrp.solve`` does (shared with the GA),
    on ``neighbours`` (:func:`solvers.neighbours.neighbourhood`: PyVRP's proximity lists or others)."""
    rng = pyvrp.RandomNumberGenerator(seed=seed)
    search = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for operator in params.operators:
        if operator.supports(data):
            search.add_operator(operator(data))
    penalties = pyvrp.PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
    return search, penalties, rng


def routes_of(solution: pyvrp.Solution, num_depots: int) -> tuple[list[list[int]], list[int]]:
    """PyVRP routes as nco routes (client node ids: PyVRP's client index + ``num_depots``) and
    their vehicle types."""
    routes = [[a.idx + num_depots for a in route.schedule() if a.is_client()] for route in solution.routes()]
    return routes, [route.vehicle_type() for route in solution.routes()]


def _warm_start(data: pyvrp.ProblemData, initial: Solution | None) -> tuple[pyvrp.Solution | None, str]:
    if initial is None:
        return None, "none"
    try:
        routes = [
            pyvrp.Route(data, [node - data.num_depots for node in route], k)
            for route, k in zip(initial.routes, initial.vehicle_types, strict=True)
        ]
        start = pyvrp.Solution(data, routes)
    except (RuntimeError, ValueError, IndexError) as error:
        return None, f"rejected ({error}); cold start"
    if not start.is_feasible():
        # PyVRP searches from infeasible solutions too (penalised), so it is still a useful start.
        return start, "used (infeasible in PyVRP's integer model)"
    return start, "used"


@dataclasses.dataclass(frozen=True)
class PyVRPOptions(Options):
    """``neighbours``: the local search's neighbour lists, ``"proximity"`` (PyVRP's), a ``(C, k)``
    array of client ids or a provider computing them at solve time (its time is charged to the
    budget), see :mod:`solvers.neighbours`; ``nco.solve`` adds ``"learned"``
    (:mod:`nco.methods.neighbours`)."""

    KINDS: ClassVar[tuple[str, ...]] = ("proximity",)
    neighbours: Neighbours = "proximity"

    def __post_init__(self) -> None:
        kind = self.neighbours
        if isinstance(kind, str) and kind not in self.KINDS:
            raise ValueError(
                f"pyvrp solver: unknown neighbours {kind!r}; choose one of {list(self.KINDS)}, "
                "a (C, k) array of client ids or a provider"
            )
        if not isinstance(kind, (str, np.ndarray)) and not callable(kind):
            raise TypeError(f"pyvrp solver: neighbours must be a name, a (C, k) array or a provider, got {kind!r}")


def pyvrp_stop(budget: Budget, seconds: float) -> pyvrp.stop.StoppingCriterion:
    """``budget`` as PyVRP's own stop objects: ``seconds`` of search, and its iteration criteria."""
    criteria: list[pyvrp.stop.StoppingCriterion] = [pyvrp.stop.MaxRuntime(seconds)]
    if budget.max_iterations is not None:
        criteria.append(pyvrp.stop.MaxIterations(budget.max_iterations))
    if budget.no_improvement is not None:
        criteria.append(pyvrp.stop.NoImprovement(budget.no_improvement))
    return criteria[0] if len(criteria) == 1 else pyvrp.stop.MultipleCriteria(criteria)


class PyVRP(Solver[PyVRPOptions]):
    """PyVRP's iterated local search, within the budget in total (conversion, set-up and the final
    evaluation included); an iteration is one of its ILS iterations."""

    name = NAME
    options_type = PyVRPOptions

    def solve(
        self, instance: Instance, options: PyVRPOptions, *, budget: Budget, seed: int, initial: Solution | None = None
    ) -> Solution:
        deadline = budget.deadline
        used = [name for name in _UNSUPPORTED if instance.features()[name]]
        if used:
            raise UnsupportedFeature(NAME, used[0])
        scaled = integer_data(instance)
        data = build_data(instance, scaled)
        start, warm = _warm_start(data, initial)
        params = solver_params(scaled)
        lists, listed = neighbourhood(options.neighbours, data, params.neighbourhood)
        search, penalties, rng = search_components(data, params, seed, lists)
        # PyVRP polishes its own random start with an exhaustive local search before iterating; a
        # warm start (say, a neural solution) gets the same polish, or the iterations, which only
        # perturb locally, would stay near a poor start for much of a short budget. The polish
        # cannot be interrupted: it is skipped when predicted to take longer than all that is left
        # (huge N).
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
            pyvrp_stop(budget, search_time), collect_stats=False
        )
        best = result.best
        routes, types = routes_of(best, instance.num_depots)
        backend_cost = (
            best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost() + best.uncollected_prizes()
        )
        info = {
            "backend_feasible": bool(best.is_feasible()),
            "backend_cost": scaled.cost.value(backend_cost) - scaled.preference_offset,
            "iterations": result.num_iterations,
            "search_time": search_time,
            "stop": budget.describe(),
            "polish": polish,
            "seed": seed,
            "warm_start": warm,
            **listed,
            **scaled.describe(),
        }
        return Solution.of(instance, routes, types, method=NAME, runtime=deadline.elapsed(), info=info)


SOLVER = PyVRP()

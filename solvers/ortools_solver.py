"""OR-Tools routing (guided local search) backend.

Every variant nco models maps onto OR-Tools' routing library, from
:func:`solvers.scaling.integer_data`:

* objective: a per-vehicle arc cost (the type's ``unit_distance_cost * distance`` plus the
  preference shift), a fixed cost per used vehicle, and a span cost on the time dimension (span =
  end - start, so travel, service and waiting, exactly the evaluator's route duration);
* profiles: per-vehicle arc costs and per-vehicle transit matrices on the time dimension;
* time windows, service times and maximum route duration (span upper bound) on one dimension
  whose start is free, so departure can be delayed as the evaluator assumes;
* mixed pickup/delivery: a "delivered" dimension counts the route's deliveries and the "load"
  dimension starts at exactly that amount, then moves by ``pickup - delivery`` per customer;
* strict backhaul: a dimension counting backhaul customers visited so far must be zero at every
  linehaul customer;
* ``allowed``: the customers' vehicle variables lose the banned vehicles;
* depots: each vehicle starts and ends at its type's depots (OR-Tools' per-vehicle starts and
  ends); an open-ended vehicle ends at its start depot over arcs that cost and take nothing;
  depots no vehicle uses are kept out of every route;
* shifts (and depot opening hours): ranges of the start and end cumuls of the time dimension;
* optional clients: a disjunction whose penalty is the prize; ``max_tasks``: a dimension counting
  clients; ``max_distance``: a dimension of (rounded-up) distances with per-vehicle capacities.

OR-Tools' search is deterministic: ``seed`` is recorded but changes nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.base import Options, Solver
from solvers.budget import Deadline, finish_reserve
from solvers.scaling import IntegerData, integer_data
from solvers.stop import Budget

__all__ = ["FALLBACK_STRATEGIES", "SOLVER", "ORTools", "ORToolsOptions"]

NAME = "ortools"
_STRATEGIES = routing_enums_pb2.FirstSolutionStrategy
_STATUS = routing_enums_pb2.RoutingSearchStatus.Value
# Tried in turn when a first-solution strategy finds nothing (ROUTING_FAIL) and time is left.
# Insertion heuristics open a route per customer they cannot insert, so they fail when a customer
# can be served in time only after another one (its window closes before a direct trip arrives);
# arc-by-arc path building extends routes customer after customer and finds such chains.
FALLBACK_STRATEGIES = ("PATH_CHEAPEST_ARC", "SAVINGS")
# Local-search operators that rebuild whole paths with an insertion heuristic. OR-Tools checks its
# time limit only between moves, and on ACVRPTW100 (100 vehicles) one of these moves ran for up
# to 0.3 s: 0.3 s budgets took 0.54-0.61 s. Without them every budget from 0.2 to 1 s held within
# 2 % at equal or better cost (2 instances, ACVRP100 and ACVRPTW100, OR-Tools 9.15).
_UNINTERRUPTIBLE_OPERATORS = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
)


class _Model:
    """The routing model, kept together with what is needed to read routes back."""

    def __init__(self, instance: Instance, scaled: IntegerData) -> None:
        self.instance = instance
        self.scaled = scaled
        types = instance.vehicle_types
        self.vehicle_type = np.repeat(np.arange(len(types)), [v.count for v in types])
        num_vehicles = len(self.vehicle_type)
        starts = [int(types[k].start_depot) for k in self.vehicle_type]
        ends = [int(types[k].start_depot if (end := types[k].end_depot) is None else end) for k in self.vehicle_type]
        self.manager = pywrapcp.RoutingIndexManager(instance.num_nodes, num_vehicles, starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.clients = range(instance.num_depots, instance.num_nodes)
        for depot in sorted(set(range(instance.num_depots)) - set(starts) - set(ends)):
            index = self.manager.NodeToIndex(depot)  # a depot nobody uses would be a node to visit
            self.routing.AddDisjunction([index], 0)
            self.routing.ActiveVar(index).SetValue(0)
        self._costs()
        self._loads()
        self._times()
        self._strict_backhaul()
        self._allowed()
        self._optional()
        self._counted("tasks", "max_tasks")
        self._distances()

    def _matrix(self, matrix: np.ndarray) -> int:
        return self.routing.RegisterTransitMatrix(matrix.astype(np.int64).tolist())

    def _per_vehicle(self, matrices: np.ndarray, tail: np.ndarray | None = None) -> list[int]:
        """One transit callback per vehicle from per-profile ``matrices``, with arcs into the
        depots free for open-ended vehicles (their dummy return), plus ``tail[i]`` on every arc
        leaving node ``i`` (a service time, which an open route's last client still takes);
        each variant registered once."""
        types, depots = self.instance.vehicle_types, self.instance.num_depots
        registered: dict[tuple[int, bool], int] = {}
        callbacks = []
        for k in self.vehicle_type:
            key = (types[k].profile, types[k].end_depot is None)
            if key not in registered:
                matrix = matrices[key[0]].copy()
                if key[1]:
                    matrix[:, :depots] = 0
                if tail is not None:
                    matrix += tail[:, None]
                registered[key] = self._matrix(matrix)
            callbacks.append(registered[key])
        return callbacks

    def _optional(self) -> None:
        required, prize = self.instance.is_required, self.scaled.prize
        for node in self.clients:
            if not required[node]:
                self.routing.AddDisjunction([self.manager.NodeToIndex(node)], int(prize[node]))

    def _counted(self, name: str, feature: str) -> None:
        """A dimension counting clients, capped per vehicle by its type's ``max_tasks``."""
        if not self.instance.features()[feature]:
            return
        types = self.instance.vehicle_types
        ones = (np.arange(self.instance.num_nodes) >= self.instance.num_depots).astype(np.int64)
        caps = [
            self.instance.num_customers if types[k].max_tasks is None else types[k].max_tasks for k in self.vehicle_type
        ]
        callback = self.routing.RegisterUnaryTransitVector(ones.tolist())
        self.routing.AddDimensionWithVehicleCapacity(callback, 0, caps, True, name)

    def _distances(self) -> None:
        scaled = self.scaled
        if scaled.distances is None or scaled.max_distance is None:
            return
        caps = [int(scaled.max_distance[k]) for k in self.vehicle_type]
        self.routing.AddDimensionWithVehicleTransitAndCapacity(
            self._per_vehicle(scaled.distances), 0, caps, True, "distance"
        )

    def _costs(self) -> None:
        scaled = self.scaled
        callbacks = [self._matrix(scaled.arc_cost[k]) for k in range(len(self.instance.vehicle_types))]
        for v, k in enumerate(self.vehicle_type):
            self.routing.SetArcCostEvaluatorOfVehicle(callbacks[k], v)
            self.routing.SetFixedCostOfVehicle(int(scaled.fixed_cost[k]), v)

    def _loads(self) -> None:
        features = self.instance.features()
        if not (features["capacity"] or features["backhaul"]):
            return
        scaled, routing = self.scaled, self.routing
        capacities = [int(scaled.capacity[k]) for k in self.vehicle_type]
        delivered = routing.RegisterUnaryTransitVector(scaled.delivery.tolist())
        routing.AddDimensionWithVehicleCapacity(delivered, 0, capacities, True, "delivered")
        if not features["backhaul"]:
            return
        change = routing.RegisterUnaryTransitVector((scaled.pickup - scaled.delivery).tolist())
        routing.AddDimensionWithVehicleCapacity(change, 0, capacities, False, "load")
        load, delivered_dim = routing.GetDimensionOrDie("load"), routing.GetDimensionOrDie("delivered")
        solver = routing.solver()
        for v in range(len(self.vehicle_type)):
            solver.Add(load.CumulVar(routing.Start(v)) == delivered_dim.CumulVar(routing.End(v)))

    def _times(self) -> None:
        features = self.instance.features()
        if not (
            features["time_windows"] or features["max_duration"] or features["duration_cost"] or features["shifts"]
        ):
            return
        scaled, routing, manager = self.scaled, self.routing, self.manager
        # transit of an arc: the travel time plus the service at its tail (zero at depots)
        per_vehicle = self._per_vehicle(scaled.travel, tail=scaled.service)
        horizon = int(max(scaled.shift[:, 1].max(), scaled.windows[:, 1].max()))
        routing.AddDimensionWithVehicleTransits(per_vehicle, horizon, horizon, False, "time")
        time = routing.GetDimensionOrDie("time")
        for node in self.clients:
            early, late = scaled.windows[node]
            time.CumulVar(manager.NodeToIndex(node)).SetRange(int(early), int(late))
        for v, k in enumerate(self.vehicle_type):
            early, late = (int(x) for x in scaled.shift[k])
            time.CumulVar(routing.Start(v)).SetRange(early, late)
            time.CumulVar(routing.End(v)).SetRange(early, late)
            if scaled.max_duration[k] < scaled.time.big:
                time.SetSpanUpperBoundForVehicle(int(scaled.max_duration[k]), v)
            if scaled.duration_rate[k] > 0:
                time.SetSpanCostCoefficientForVehicle(int(scaled.duration_rate[k]), v)
            routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(v)))
            routing.AddVariableMaximizedByFinalizer(time.CumulVar(routing.Start(v)))

    def _strict_backhaul(self) -> None:
        if not self.instance.features()["strict_backhaul"]:
            return
        routing = self.routing
        is_backhaul = (self.instance.backhaul > 0).astype(np.int64)
        counter = routing.RegisterUnaryTransitVector(is_backhaul.tolist())
        routing.AddDimension(counter, 0, int(is_backhaul.sum()), True, "backhauls_seen")
        seen = routing.GetDimensionOrDie("backhauls_seen")
        for node in np.flatnonzero(self.instance.delivery > 0):
            seen.CumulVar(self.manager.NodeToIndex(int(node))).SetMax(0)

    def _allowed(self) -> None:
        allowed = self.instance.allowed
        if allowed is None:
            return
        # SetAllowedVehiclesForIndex's Python binding rejects every list in OR-Tools 9.15 (its
        # absl::Span argument is not mapped), so the vehicle variables are restricted directly.
        for node in self.clients:
            banned = [v for v, k in enumerate(self.vehicle_type) if not allowed[k, node]]
            if banned:
                self.routing.VehicleVar(self.manager.NodeToIndex(node)).RemoveValues(banned)

    def routes_of(self, assignment: pywrapcp.Assignment) -> tuple[list[list[int]], list[int]]:
        routes, types = [], []
        routing, manager = self.routing, self.manager
        for v in range(len(self.vehicle_type)):
            index = assignment.Value(routing.NextVar(routing.Start(v)))
            route = []
            while not routing.IsEnd(index):
                route.append(manager.IndexToNode(index))
                index = assignment.Value(routing.NextVar(index))
            if route:
                routes.append(route)
                types.append(int(self.vehicle_type[v]))
        return routes, types

    def initial_assignment(self, initial: Solution) -> tuple[pywrapcp.Assignment | None, str]:
        """The warm start as an assignment; OR-Tools checks every constraint while reading it."""
        slots: dict[int, list[int]] = {}
        for v, k in enumerate(self.vehicle_type):
            slots.setdefault(int(k), []).append(v)
        per_vehicle: list[list[int]] = [[] for _ in self.vehicle_type]
        for route, kind in zip(initial.routes, initial.vehicle_types, strict=True):
            if not slots.get(kind):
                return None, f"rejected (more routes of vehicle type {kind} than vehicles); cold start"
            per_vehicle[slots[kind].pop(0)] = [self.manager.NodeToIndex(node) for node in route]
        assignment = self.routing.ReadAssignmentFromRoutes(per_vehicle, True)
        if assignment is None:
            return None, "rejected (infeasible in OR-Tools' integer model); cold start"
        return assignment, "used"


@dataclasses.dataclass(frozen=True)
class ORToolsOptions(Options):
    """``first_solution``: the first-solution strategy, an OR-Tools ``FirstSolutionStrategy`` name.

    The default is insertion-based: PATH_CHEAPEST_ARC found no first solution at all on Solomon
    R101 (25 vehicles, tight windows) or on some mixed pickup/delivery instances within 0.25 s,
    while parallel cheapest insertion did, at similar cost elsewhere (X-n101, real-city ACVRP/TW).
    """

    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"

    def __post_init__(self) -> None:
        if not isinstance(self.first_solution, str) or not hasattr(_STRATEGIES, self.first_solution):
            raise ValueError(f"ortools solver: unknown first_solution {self.first_solution!r}")


class _Watch:
    """Counts the solutions OR-Tools accepts and cancels the search after ``patience`` in a row
    without a better objective (:class:`solvers.stop.NoImprovement`)."""

    def __init__(self, routing: pywrapcp.RoutingModel, patience: int) -> None:
        self.routing, self.patience = routing, patience
        self.best, self.stale, self.cancelled = None, 0, False

    def __call__(self) -> None:
        value = self.routing.CostVar().Max()
        if self.best is None or value < self.best:
            self.best, self.stale = value, 0
            return
        self.stale += 1
        if self.stale >= self.patience and not self.cancelled:
            self.cancelled = True
            self.routing.CancelSearch()


class ORTools(Solver[ORToolsOptions]):
    """Guided local search from a first-solution strategy within the budget, model building and
    the final evaluation included; an iteration is one solution the search accepts.

    When the chosen strategy finds no first solution, :data:`FALLBACK_STRATEGIES` get the time
    that is left; ``info["first_solution_attempts"]`` lists each strategy with its status, and
    ``info["stopped"]`` says why the search ended."""

    name = NAME
    options_type = ORToolsOptions

    def solve(
        self, instance: Instance, options: ORToolsOptions, *, budget: Budget, seed: int, initial: Solution | None = None
    ) -> Solution:
        deadline = budget.deadline
        first_solution = options.first_solution
        strategies = [first_solution, *(s for s in FALLBACK_STRATEGIES if s != first_solution)]
        scaled = integer_data(instance)
        model = _Model(instance, scaled)
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = getattr(_STRATEGIES, first_solution)
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        for operator in _UNINTERRUPTIBLE_OPERATORS:
            setattr(params.local_search_operators, operator, optional_boolean_pb2.BOOL_FALSE)
        if budget.max_iterations is not None:
            params.solution_limit = budget.max_iterations
        watch = None
        if budget.no_improvement is not None:
            watch = _Watch(model.routing, budget.no_improvement)
            model.routing.AddAtSolutionCallback(watch)
        params.time_limit.FromMilliseconds(1)  # closing checks it is set; the search's own is set below
        model.routing.CloseModelWithParameters(params)
        reserve = finish_reserve(instance.num_nodes)
        warm = "none"
        assignment = None
        attempts: list[tuple[str, str]] = []
        if initial is not None:
            start, warm = model.initial_assignment(initial)
            if start is not None:
                _set_time_limit(params, deadline.remaining(reserve))
                assignment = model.routing.SolveFromAssignmentWithParameters(start, params)
                attempts.append(("warm start", _STATUS.Name(model.routing.status())))
        for name in strategies:
            if assignment is not None or (attempts and deadline.remaining(reserve) <= 0):
                break
            params.first_solution_strategy = getattr(_STRATEGIES, name)
            _set_time_limit(params, deadline.remaining(reserve))
            assignment = model.routing.SolveWithParameters(params)
            attempts.append((name, _STATUS.Name(model.routing.status())))
            if model.routing.status() != _STATUS.ROUTING_FAIL:  # a timeout or infeasibility: no point retrying
                break
        status = model.routing.status()
        info: dict[str, Any] = {
            "status": int(status),
            "stopped": _stopped(status, deadline, budget, watch),
            "stop": budget.describe(),
            "seed": seed,
            "warm_start": warm,
            "first_solution": first_solution,
            "first_solution_attempts": attempts,
            **scaled.describe(),
        }
        routes: list[list[int]] = []
        types: list[int] = []
        if assignment is not None:
            routes, types = model.routes_of(assignment)
            info["backend_cost"] = scaled.cost.value(assignment.ObjectiveValue()) - scaled.preference_offset
        return Solution.of(instance, routes, types, method=NAME, runtime=deadline.elapsed(), info=info)


SOLVER = ORTools()


def _set_time_limit(params: Any, seconds: float) -> None:
    """OR-Tools counts whole milliseconds; at least one, or it would not search at all."""
    params.time_limit.FromMilliseconds(max(int(seconds * 1000), 1))


def _stopped(status: int, deadline: Deadline, budget: Budget, watch: _Watch | None) -> str:
    name = _STATUS.Name(status)
    if watch is not None and watch.cancelled:
        return f"{name}: NoImprovement({budget.no_improvement})"
    early = deadline.remaining() > 0.05 * deadline.seconds + 0.01
    if budget.max_iterations is not None and status != _STATUS.ROUTING_FAIL and early:
        return f"{name}: MaxIterations({budget.max_iterations}), {deadline.remaining():.3f} s left"
    if status == _STATUS.ROUTING_FAIL:
        return f"{name}: no first-solution strategy found a solution ({deadline.remaining():.3f} s left)"
    if early:
        return f"{name}: the search ended {deadline.remaining():.3f} s before the budget"
    return f"{name}: time limit"

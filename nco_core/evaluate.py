"""The one evaluator: cost and feasibility of a set of routes, for every variant.

Every method's output (solvers, environments, policies, refiners, the LLM front end) is scored
here and nowhere else, on the instance's own float matrices.

Objective (the same one every solver is given):
    sum over used routes of  fixed_cost + unit_distance_cost * distance + unit_duration_cost * duration
    minus the preference of each served customer for the vehicle type serving it,
    plus the prize of every optional client left out (PyVRP's prize-collecting objective).
A route runs from its vehicle type's start depot to its end depot (or ends after its last
client's service when the type ends open). Its duration is the shortest possible time from
leaving to finishing, including service and unavoidable waiting: departure is delayed as far as
that helps, as PyVRP does. The vehicle's shift bounds the departure and the finish.

Nothing here raises on bad routes or extreme data: a route whose sums of finite entries overflow
(distances near 1e308) gets an ``overflow`` violation and an infinite cost, never a wrong number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nco_core.instance import Instance

__all__ = ["Evaluation", "Schedule", "Violation", "evaluate", "normalise_routes", "schedule"]

ViolationKind = Literal[
    "invalid_node",
    "duplicate",
    "unvisited",
    "fleet_size",
    "vehicle_type",
    "forbidden",
    "unreachable_arc",
    "overflow",
    "capacity",
    "backhaul_order",
    "time_window",
    "max_duration",
    "shift",
    "max_tasks",
    "max_distance",
]


@dataclass(frozen=True)
class Violation:
    """One broken constraint; ``route``/``node`` locate it where that makes sense."""

    kind: ViolationKind
    message: str
    route: int | None = None
    node: int | None = None
    amount: float = 0.0

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Evaluation:
    cost: float
    distance: float
    duration: float
    num_routes: int
    violations: tuple[Violation, ...] = field(default=())
    unassigned: tuple[int, ...] = field(default=())  # optional clients left out (not violations)
    uncollected: float = 0.0  # their prizes, included in ``cost``

    @property
    def feasible(self) -> bool:
        return not self.violations


def normalise_routes(
    instance: Instance, routes: Sequence[Sequence[int]], vehicle_types: Sequence[int] | None = None
) -> tuple[list[list[int]], list[int]]:
    """Plain int lists without empty routes; the vehicle type defaults to 0 for a one-type fleet."""
    as_lists = [[int(node) for node in route] for route in routes]
    if vehicle_types is None:
        if len(instance.vehicle_types) > 1:
            raise ValueError(
                f"instance {instance.name!r} has {len(instance.vehicle_types)} vehicle types: "
                "give vehicle_types (one per route)"
            )
        types = [0] * len(as_lists)
    else:
        types = [int(k) for k in vehicle_types]
        if len(types) != len(as_lists):
            raise ValueError(f"vehicle_types has {len(types)} entries for {len(as_lists)} routes")
    kept = [(route, k) for route, k in zip(as_lists, types, strict=True) if route]
    return [route for route, _ in kept], [k for _, k in kept]


def evaluate(
    instance: Instance, routes: Sequence[Sequence[int]], vehicle_types: Sequence[int] | None = None
) -> Evaluation:
    """Score ``routes`` (client indices; the vehicle type's depots are implicit) on ``instance``;
    never raises on bad routes."""
    routes, types = normalise_routes(instance, routes, vehicle_types)
    violations: list[Violation] = []
    coverage, unassigned = _coverage(instance, routes)
    violations += coverage
    violations += _fleet(instance, routes, types)
    valid = [
        (r, route, k)
        for r, (route, k) in enumerate(zip(routes, types, strict=True))
        if 0 <= k < len(instance.vehicle_types)
        and all(instance.num_depots <= node < instance.num_nodes for node in route)
    ]
    uncollected = float(instance.prizes[unassigned].sum())
    total_cost, total_distance, total_duration = uncollected, 0.0, 0.0
    for r, route, k in valid:
        vehicle = instance.vehicle_types[k]
        end = [] if vehicle.end_depot is None else [vehicle.end_depot]
        path = np.array([vehicle.start_depot, *route, *end])
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, not warned
            distance = float(instance.distance_matrix(vehicle.profile)[path[:-1], path[1:]].sum())
            duration, time_violations = _schedule(instance, r, route, k)
            violations += time_violations
            violations += _route_constraints(instance, r, route, k, path, distance, duration)
        preference = 0.0 if instance.preference is None else float(instance.preference[k, route].sum())
        cost = (
            vehicle.fixed_cost
            + _weighted(vehicle.unit_distance_cost, distance)
            + _weighted(vehicle.unit_duration_cost, duration)
            - preference
        )
        overflow = _overflow(instance, r, path, vehicle.profile, cost)
        if overflow:
            violations.append(overflow)
            cost = math.inf
        total_cost += cost
        total_distance += distance if math.isfinite(distance) else math.inf
        total_duration += duration if math.isfinite(duration) else math.inf
    if len(valid) < len(routes):
        total_cost = total_distance = total_duration = math.inf
    return Evaluation(
        total_cost,
        total_distance,
        total_duration,
        len(routes),
        tuple(violations),
        tuple(int(node) for node in unassigned),
        uncollected,
    )


def _overflow(instance: Instance, r: int, path: np.ndarray, profile: int, cost: float) -> Violation | None:
    """A non-finite route cost that no infinite arc explains: finite entries too large to add up.
    (A distance or duration that overflows without entering the cost or a limit changes nothing.)"""
    if math.isfinite(cost):
        return None
    arcs = (path[:-1], path[1:])
    if not (
        np.isfinite(instance.distance_matrix(profile)[arcs]).all()
        and np.isfinite(instance.duration_matrix(profile)[arcs]).all()
    ):
        return None  # an infinite arc is an unreachable_arc violation already
    return Violation("overflow", f"route {r}: its cost overflows (finite values too large to add)", r)


def _weighted(unit_cost: float, amount: float) -> float:
    """A zero unit cost ignores the amount, even an infinite one (0 * inf would be NaN)."""
    return unit_cost * amount if unit_cost else 0.0


def _coverage(instance: Instance, routes: list[list[int]]) -> tuple[list[Violation], np.ndarray]:
    """Violations of "every required client exactly once", and the optional clients left out."""
    found: list[Violation] = []
    depots = instance.num_depots
    seen = np.zeros(instance.num_nodes, dtype=np.int64)
    for r, route in enumerate(routes):
        for node in route:
            if not depots <= node < instance.num_nodes:
                what = "a depot, not a client" if 0 <= node < depots else "not a client"
                found.append(
                    Violation(
                        "invalid_node",
                        f"route {r}: node {node} is {what} (valid: {depots}..{instance.num_nodes - 1})",
                        r,
                        node,
                    )
                )
            else:
                seen[node] += 1
    for twice in np.flatnonzero(seen > 1):
        found.append(Violation("duplicate", f"node {twice} is visited {seen[twice]} times", None, int(twice)))
    missing = np.flatnonzero(seen[depots:] == 0) + depots
    required = instance.is_required[missing]
    for node in missing[required]:
        found.append(Violation("unvisited", f"node {node} is not visited", None, int(node)))
    return found, missing[~required]


def _fleet(instance: Instance, routes: list[list[int]], types: list[int]) -> list[Violation]:
    found: list[Violation] = []
    counts = np.bincount([k for k in types if k >= 0], minlength=len(instance.vehicle_types))
    for r, k in enumerate(types):
        if not 0 <= k < len(instance.vehicle_types):
            found.append(Violation("vehicle_type", f"route {r}: vehicle type {k} does not exist", r))
    for k, vehicle in enumerate(instance.vehicle_types):
        if counts[k] > vehicle.count:
            found.append(
                Violation(
                    "fleet_size",
                    f"{counts[k]} routes use vehicle type {k} but only {vehicle.count} are available",
                    amount=float(counts[k] - vehicle.count),
                )
            )
    return found


def _route_constraints(
    instance: Instance, r: int, route: list[int], k: int, path: np.ndarray, distance: float, duration: float
) -> list[Violation]:
    found: list[Violation] = []
    vehicle = instance.vehicle_types[k]
    arcs = (path[:-1], path[1:])
    infinite = ~(
        np.isfinite(instance.distance_matrix(vehicle.profile)[arcs])
        & np.isfinite(instance.duration_matrix(vehicle.profile)[arcs])
    )
    if infinite.any():
        first = int(np.flatnonzero(infinite)[0])
        a, b = int(path[first]), int(path[first + 1])
        found.append(Violation("unreachable_arc", f"route {r}: no road from node {a} to node {b}", r, b))
    if instance.allowed is not None:
        for node in route:
            if not instance.allowed[k, node]:
                found.append(Violation("forbidden", f"route {r}: vehicle type {k} may not serve node {node}", r, node))
    delivery = instance.delivery[route]
    pickup = instance.backhaul[route]
    load = delivery.sum() + np.concatenate([[0.0], np.cumsum(pickup - delivery)])
    peak = float(load.max())
    if peak > vehicle.capacity + 1e-9:
        found.append(
            Violation(
                "capacity",
                f"route {r}: load {peak:g} exceeds capacity {vehicle.capacity:g}",
                r,
                amount=peak - vehicle.capacity,
            )
        )
    if instance.backhaul_mode == "strict":
        backhaul_seen = np.cumsum(pickup > 0) > 0
        late_linehaul = np.flatnonzero((delivery > 0) & backhaul_seen)
        if late_linehaul.size:
            node = route[int(late_linehaul[0])]
            found.append(
                Violation("backhaul_order", f"route {r}: linehaul node {node} comes after a backhaul", r, node)
            )
    if vehicle.max_tasks is not None and len(route) > vehicle.max_tasks:
        found.append(
            Violation(
                "max_tasks",
                f"route {r}: {len(route)} clients, more than vehicle type {k}'s maximum of {vehicle.max_tasks}",
                r,
                amount=float(len(route) - vehicle.max_tasks),
            )
        )
    if distance > vehicle.max_distance + 1e-9:
        found.append(
            Violation(
                "max_distance",
                f"route {r}: distance {distance:g} exceeds vehicle type {k}'s maximum {vehicle.max_distance:g}",
                r,
                amount=distance - vehicle.max_distance,
            )
        )
    if duration > vehicle.max_duration + 1e-9:
        found.append(
            Violation(
                "max_duration",
                f"route {r}: duration {duration:g} exceeds the maximum {vehicle.max_duration:g}",
                r,
                amount=duration - vehicle.max_duration,
            )
        )
    return found


@dataclass(frozen=True)
class Schedule:
    """When a route's vehicle is where, by the evaluator's own timing rule: ``nodes`` is the path
    (start depot, the clients, the end depot unless the route ends open); at each node the
    vehicle arrives at ``arrival`` (at the start depot: its departure), waits ``waiting`` for the
    window to open and serves for ``service``. Departure is the latest that does not make the
    route finish later, so ``finish - departure`` is the route duration the evaluator charges."""

    nodes: np.ndarray
    arrival: np.ndarray
    waiting: np.ndarray
    service: np.ndarray

    @property
    def departure(self) -> float:
        return float(self.arrival[0])

    @property
    def finish(self) -> float:
        """Arrival at the end depot, or the end of the last service on an open route."""
        return float(self.arrival[-1] + self.waiting[-1] + self.service[-1])


def schedule(instance: Instance, route: Sequence[int], vehicle_type: int) -> Schedule:
    """The timed path of one route (client indices) driven by ``vehicle_type`` (for reports,
    solution files and maps: the same times the evaluator's durations come from)."""
    with np.errstate(over="ignore", invalid="ignore"):
        timing = _Timing(instance, [int(node) for node in route], vehicle_type)
        arrival, wait = timing.forward(timing.earliest + timing.delay)
        return Schedule(np.array(timing.path), np.array(arrival), np.array(wait), np.array(timing.service))


class _Timing:
    """One route's times when leaving as early as possible, and how much later it may leave.

    Leaving the start depot at its earliest time (its opening, or the shift's start if later)
    gives every node its earliest possible arrival, so lateness in that forward pass is exactly
    time-window (and shift) infeasibility. Delaying the start by x shortens the route by x while
    x is at most the total waiting and no node becomes late; the finish (arrival at the end depot,
    or the end of the last service on an open route) must also stay within the shift. An end
    depot's closing time binds its arrival, its opening time does not. Plain Python floats: the
    evaluator runs this for every route of every solution, and per-stop numpy access is slow.
    """

    def __init__(self, instance: Instance, route: list[int], k: int) -> None:
        vehicle = instance.vehicle_types[k]
        depots = instance.num_depots
        end = [] if vehicle.end_depot is None else [vehicle.end_depot]
        self.path = path = [vehicle.start_depot, *route, *end]
        self.legs = instance.duration_matrix(vehicle.profile)[path[:-1], path[1:]].tolist()
        windows = instance.time_windows
        self.early = [0.0] * len(path) if windows is None else windows[path, 0].tolist()
        self.late = [math.inf] * len(path) if windows is None else windows[path, 1].tolist()
        if end:
            self.early[-1] = 0.0  # the end depot: only its closing time binds (no backend waits to return)
        served = instance.service[path].tolist()
        self.service = [float(s) if node >= depots else 0.0 for node, s in zip(path, served, strict=True)]
        self.shift_end = (vehicle.time_window or (0.0, math.inf))[1]
        self.earliest = max(self.early[0], (vehicle.time_window or (0.0, math.inf))[0])
        self.reached, wait = self.forward(self.earliest)
        self.finish = self.reached[-1] + wait[-1] + self.service[-1]
        slack, waited = math.inf, 0.0
        for reached, late, waits in zip(self.reached[1:], self.late[1:], wait[1:], strict=True):
            slack = min(slack, late - reached + waited)  # leaving later may not make this node late
            waited += waits
        slack = min(slack, self.shift_end - self.finish + waited)
        self.delay = max(min(slack, waited), 0.0)

    def forward(self, departure: float) -> tuple[list[float], list[float]]:
        arrival, wait, time = [departure], [0.0], departure
        for leg, opens, serves in zip(self.legs, self.early[1:], self.service[1:], strict=True):
            reached = time + leg
            waits = max(opens - reached, 0.0)
            arrival.append(reached)
            wait.append(waits)
            time = reached + waits + serves
        return arrival, wait


def _schedule(instance: Instance, r: int, route: list[int], k: int) -> tuple[float, list[Violation]]:
    """Shortest route duration, and the nodes reached too late (or the shift overrun) when
    leaving as early as possible (see :class:`_Timing`)."""
    timing = _Timing(instance, route, k)
    found: list[Violation] = []
    for node, reached, late in zip(timing.path[1:], timing.reached[1:], timing.late[1:], strict=True):
        if reached > late + 1e-9:
            where = f"depot {node}" if node < instance.num_depots else f"node {node}"
            found.append(
                Violation(
                    "time_window",
                    f"route {r}: arrives at {where} at {reached:g}, after its window closes at {late:g}",
                    r,
                    node,
                    amount=reached - late,
                )
            )
    if timing.finish > timing.shift_end + 1e-9:
        found.append(
            Violation(
                "shift",
                f"route {r}: finishes at {timing.finish:g}, "
                f"after vehicle type {k}'s shift ends at {timing.shift_end:g}",
                r,
                amount=timing.finish - timing.shift_end,
            )
        )
    duration = timing.finish - timing.earliest - timing.delay
    return (math.inf if math.isnan(duration) else duration), found  # inf - inf: overflowed times

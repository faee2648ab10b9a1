"""VROOM backend (pyvroom).

VROOM's inputs are 32-bit unsigned, so the instance is scaled with ``UINT32_MAX`` limits (see
:mod:`solvers.scaling`). The model:

* one VROOM profile per vehicle type, with that type's travel times as durations and a custom
  cost matrix holding its whole arc objective: ``unit_distance_cost * distance +
  unit_duration_cost * (travel + service)`` plus the preference shift; a fixed cost per used
  vehicle. VROOM cannot price waiting time, so with time windows *and* a duration cost the
  objective it optimises omits waiting (the reported cost is still the evaluator's);
* ``allowed`` becomes skills: one skill per distinct set of vehicle types allowed for a
  customer, required by those customers and held by the types in the set;
* maximum route duration becomes the vehicle's time window ``[0, max_duration]``, which is exact
  without customer time windows (no waiting); with time windows VROOM has no duration limit that
  counts waiting and service (``max_travel_time`` counts travel only): :class:`UnsupportedFeature`;
* open routes: vehicles without an end location; mixed pickup/delivery: jobs with both amounts;
  strict backhauls cannot be expressed: :class:`UnsupportedFeature`.

VROOM stops at ``timeout`` (whole call, model building included) or when its search at
``exploration_level`` ends, whichever comes first. It is deterministic: ``seed`` is recorded only.
"""

from __future__ import annotations

import time as clock
from datetime import timedelta
from typing import Any

import numpy as np
import vroom

from nco.instance import Instance
from nco.solution import Solution
from solvers.errors import UnsupportedFeature
from solvers.scaling import UINT32_MAX, IntegerData, integer_data

__all__ = ["solve"]

NAME = "vroom"


def _check_supported(instance: Instance) -> None:
    features = instance.features()
    if features["strict_backhaul"]:
        raise UnsupportedFeature(NAME, "strict_backhaul")
    if features["max_duration"] and features["time_windows"]:
        raise UnsupportedFeature(NAME, "max_duration with time_windows")


def _skills(instance: Instance) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Per customer the skill it requires, per vehicle type the skills it holds."""
    jobs: dict[int, set[int]] = {}
    vehicles: dict[int, set[int]] = {k: set() for k in range(len(instance.vehicle_types))}
    allowed = instance.allowed
    if allowed is None or allowed.all():
        return jobs, vehicles
    patterns: dict[tuple[bool, ...], int] = {}
    for node in range(1, instance.num_nodes):
        column = tuple(bool(x) for x in allowed[:, node])
        if all(column):
            continue
        skill = patterns.setdefault(column, len(patterns) + 1)
        jobs[node] = {skill}
        for k in np.flatnonzero(column):
            vehicles[int(k)].add(skill)
    return jobs, vehicles


def _build(instance: Instance, scaled: IntegerData, initial: Solution | None) -> tuple[vroom.Input, list[int]]:
    problem = vroom.Input()
    features = instance.features()
    with_load = features["capacity"] or features["backhaul"]
    job_skills, vehicle_skills = _skills(instance)
    windows = scaled.windows
    for k, vehicle in enumerate(instance.vehicle_types):
        name = f"type{k}"
        problem.set_durations_matrix(name, scaled.travel[vehicle.profile])
        problem.set_costs_matrix(name, scaled.arc_cost[k])
    starts: dict[int, list[list[int]]] = {}
    if initial is not None:
        for route, k in zip(initial.routes, initial.vehicle_types):
            starts.setdefault(k, []).append(route)
    vehicle_type: list[int] = []
    for k, vehicle in enumerate(instance.vehicle_types):
        if features["time_windows"]:
            window = vroom.TimeWindow(int(windows[0, 0]), scaled.route_end)
        elif scaled.max_duration[k] < scaled.time.big:
            window = vroom.TimeWindow(0, int(scaled.max_duration[k]))
        else:
            window = None
        for _ in range(vehicle.count):
            route = starts.get(k, [])
            steps = []
            if route:
                visits = route.pop(0)
                steps = [vroom.VehicleStep("start"), *(vroom.VehicleStep("single", n) for n in visits), vroom.VehicleStep("end")]
            problem.add_vehicle(
                vroom.Vehicle(
                    len(vehicle_type),
                    start=0,
                    end=None if instance.open_routes else 0,
                    profile=f"type{k}",
                    capacity=[int(scaled.capacity[k])] if with_load else (),
                    skills=vehicle_skills[k] or None,
                    time_window=window,
                    costs=vroom.VehicleCosts(fixed=int(scaled.fixed_cost[k])),
                    steps=steps,
                )
            )
            vehicle_type.append(k)
    for node in range(1, instance.num_nodes):
        load = {"delivery": vroom.Amount([int(scaled.delivery[node])]), "pickup": vroom.Amount([int(scaled.pickup[node])])}
        problem.add_job(
            vroom.Job(
                node,
                location=node,
                default_service=int(scaled.service[node]),
                skills=job_skills.get(node),
                time_windows=[vroom.TimeWindow(int(windows[node, 0]), int(windows[node, 1]))]
                if features["time_windows"]
                else (),
                **(load if with_load else {}),
            )
        )
    return problem, vehicle_type


def solve(
    instance: Instance,
    *,
    time_limit: float,
    seed: int,
    initial: Solution | None = None,
    exploration_level: int = 5,
    threads: int = 1,
    **options: Any,
) -> Solution:
    """VROOM's local search at ``exploration_level`` (1-5) on ``threads`` threads, stopped after
    ``time_limit`` wall-clock seconds in total."""
    started = clock.perf_counter()
    if options:
        raise TypeError(f"vroom solver: unexpected options {sorted(options)}")
    _check_supported(instance)
    scaled = integer_data(instance, entry_limit=UINT32_MAX, fold_duration_cost=True)
    warm = "none" if initial is None else "used"

    def run(start: Solution | None) -> tuple[Any, list[int]]:
        problem, vehicle_type = _build(instance, scaled, start)
        remaining = max(time_limit - (clock.perf_counter() - started), 0.01)
        result = problem.solve(
            exploration_level=exploration_level, nb_threads=threads, timeout=timedelta(seconds=remaining)
        )
        return result, vehicle_type

    try:
        result, vehicle_type = run(initial)
    except vroom._vroom.VroomInputException as error:
        if initial is None:
            raise
        warm = f"rejected ({error}); cold start"
        result, vehicle_type = run(None)
    output = result.to_dict()
    routes, types = [], []
    for route in output["routes"]:
        visits = [step["id"] for step in route["steps"] if step["type"] == "job"]
        routes.append(visits)
        types.append(vehicle_type[route["vehicle"]])
    info = {
        "backend_cost": scaled.cost.value(output["summary"]["cost"]) - scaled.preference_offset,
        "unassigned": [job["id"] for job in output["unassigned"]],
        "seed": seed,
        "warm_start": warm,
        **scaled.describe(),
    }
    return Solution.of(instance, routes, types, method=NAME, runtime=clock.perf_counter() - started, info=info)

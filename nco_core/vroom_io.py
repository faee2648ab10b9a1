"""VROOM's problem JSON in, VROOM's solution JSON out, in VROOM's own units and ids.

A problem file (keys ``jobs`` / ``vehicles``, optional ``matrices``) is checked against a pydantic
schema (types, ranges, unknown keys refused, so a misspelt ``"sevice"`` is an error, not a job with
no service), then becomes a :class:`nco_core.stops.Problem`. Times are seconds and distances metres
on both sides and are never converted, so integers round-trip exactly. VROOM locations are
``[lon, lat]``. With ``matrices`` every job and vehicle needs ``location_index`` (``location`` then
only draws the map); without, ``location`` is required and OSRM computes the matrices.

The solution file has VROOM's layout (``code``, ``summary``, ``unassigned``, ``routes`` with
``steps``: arrival, service, waiting_time, load, duration and distance so far) plus an ``nco`` entry
with the evaluator's verdict (feasible, violations, method). Its costs are nco's objective, computed
by the evaluator (see :mod:`nco_core.stops` for how it differs from VROOM's).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nco_core.errors import UnsupportedFeature
from nco_core.evaluate import evaluate
from nco_core.evaluate import schedule as evaluate_schedule
from nco_core.instance import InstanceFileError
from nco_core.solution import Solution
from nco_core.stops import Job, Matrices, Problem, StopsError, Vehicle

__all__ = ["is_vroom_problem", "read_vroom", "read_vroom_solution", "schedule", "vroom_solution"]

Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Window = Annotated[list[Seconds], Field(min_length=2, max_length=2)]
Location = Annotated[list[float], Field(min_length=2, max_length=2)]
Index = Annotated[int, Field(ge=0)]
VroomId = Annotated[int, Field(ge=0)]
Skill = Annotated[int, Field(ge=0)]
READER = "nco's VROOM reader"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Job(_Model):
    id: VroomId
    description: str | None = None
    location: Location | None = None
    location_index: Index | None = None
    setup: Seconds = 0
    service: Seconds = 0
    delivery: list[Amount] = []
    pickup: list[Amount] = []
    amount: list[Amount] = []  # VROOM's deprecated name of delivery
    skills: list[Skill] = []
    priority: Annotated[int, Field(ge=0, le=100)] = 0
    time_windows: list[Window] = []
    prize: Amount | None = None  # nco's extension (VROOM ignores it): an optional job, worth this if served


class _Costs(_Model):
    fixed: Amount = 0
    per_hour: Amount = 3600
    per_km: Amount = 0


class _Vehicle(_Model):
    id: VroomId
    profile: str = "car"
    description: str | None = None
    start: Location | None = None
    start_index: Index | None = None
    end: Location | None = None
    end_index: Index | None = None
    capacity: list[Amount] | None = None
    costs: _Costs = _Costs()
    skills: list[Skill] = []
    time_window: Window | None = None
    breaks: list[dict[str, Any]] = []
    speed_factor: Annotated[float, Field(gt=0, le=5)] = 1.0
    max_tasks: Annotated[int, Field(ge=0)] | None = None
    max_travel_time: Seconds | None = None
    max_distance: Amount | None = None
    steps: list[dict[str, Any]] = []


class _Matrix(_Model):
    durations: list[list[Seconds]]
    distances: list[list[Amount]] | None = None
    costs: list[list[Amount]] | None = None


class _Problem(_Model):
    jobs: list[_Job] = []
    shipments: list[dict[str, Any]] = []
    vehicles: Annotated[list[_Vehicle], Field(min_length=1)]
    matrices: dict[str, _Matrix] | None = None
    options: dict[str, Any] = {}  # VROOM's own run options (e.g. "g"): nothing to model


def is_vroom_problem(data: Any) -> bool:
    """VROOM problems have ``vehicles`` and ``jobs`` or ``shipments``; nco's own JSON has ``distance``."""
    return isinstance(data, dict) and "vehicles" in data and ("jobs" in data or "shipments" in data)


def read_vroom(path: str | Path, data: dict | None = None) -> Problem:
    """The :class:`Problem` of a VROOM problem file; errors start with the file name."""
    path = Path(path)
    try:
        if data is None:
            data = json.loads(path.read_text())
        model = _Problem.model_validate(data)
    except json.JSONDecodeError as error:
        raise InstanceFileError(f"{path}: line {error.lineno}: not valid JSON ({error.msg})") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InstanceFileError(f"{path}: {where}: {first['msg']} (got {str(first.get('input'))[:80]})") from None
    try:
        problem = _problem(model, path)
        if problem.matrices is not None:
            problem.instance  # noqa: B018 - built now, so that its errors name this file
        return problem
    except StopsError as error:
        raise InstanceFileError(f"{path}: {error}") from None


def _amount(values: list[float], owner: str, key: str) -> float:
    if len(values) > 1:
        raise UnsupportedFeature(READER, f"{owner}: {key} with {len(values)} dimensions (one amount per job only)")
    return float(values[0]) if values else 0.0


def _unsupported(model: _Problem) -> None:
    if model.shipments:
        raise UnsupportedFeature(READER, f"shipments (pickup-and-delivery pairs; {len(model.shipments)} given)")
    optional = any(job.prize is not None for job in model.jobs)
    for job in model.jobs:
        if len(job.time_windows) > 1:
            raise UnsupportedFeature(READER, f"job {job.id}: several time windows ({len(job.time_windows)})")
        if optional and job.priority:  # with every job required, priority (what to leave out) means nothing
            raise UnsupportedFeature(READER, f"job {job.id}: priority alongside optional jobs (give prizes instead)")
    for v in model.vehicles:
        owner = f"vehicle {v.id}"
        for key, value, default in (
            ("breaks", v.breaks, []),
            ("steps (initial routes)", v.steps, []),
            ("speed_factor", v.speed_factor, 1.0),
            ("max_travel_time (driving time only; nco limits whole route durations)", v.max_travel_time, None),
        ):
            if value != default:
                raise UnsupportedFeature(READER, f"{owner}: {key}")
        if v.start is None and v.start_index is None:
            raise UnsupportedFeature(READER, f"{owner}: no start (a route that begins at its first job)")
    for profile, matrix in (model.matrices or {}).items():
        if matrix.costs is not None:
            raise UnsupportedFeature(READER, f"matrices[{profile!r}].costs (custom cost matrices)")


def _problem(model: _Problem, path: Path) -> Problem:
    _unsupported(model)
    name = path.stem
    places: list[tuple[str, list[float] | None, int | None]] = []  # (owner, [lon, lat], index)
    for job in model.jobs:
        places.append((f"job {job.id}", job.location, job.location_index))
    for v in model.vehicles:
        places.append((f"vehicle {v.id} start", v.start, v.start_index))
        if v.end is not None or v.end_index is not None:
            places.append((f"vehicle {v.id} end", v.end, v.end_index))
    indexed = model.matrices is not None
    for owner, location, index in places:
        if indexed and index is None:
            raise StopsError(f"{name}: {owner}: no location_index (the file has matrices, so every place needs one)")
        if not indexed and location is None:
            raise StopsError(f"{name}: {owner}: no location (needed to route it with OSRM: [lon, lat])")
    if indexed:
        indices = [index for _, _, index in places if index is not None]  # all of them (checked above)
        size = max(indices) + 1
        latlon = np.full((size, 2), np.nan)
        for _, location, index in places:
            if location is not None and index is not None:
                latlon[index] = location[1], location[0]
        coordinates = latlon if all(location is not None for _, location, _ in places) else None
    else:
        unique: dict[tuple[float, float], int] = {}
        indices = [
            unique.setdefault((location[1], location[0]), len(unique))
            for _, location, _ in places
            if location is not None
        ]  # all of them (checked above)
        coordinates = np.array(list(unique), dtype=float)
    where = iter(indices)
    jobs = []
    for job in model.jobs:
        owner = f"job {job.id}"
        delivery = _amount(job.delivery or job.amount, owner, "delivery")
        if (
            job.setup
            and sum(
                other.location_index == job.location_index and other.location == job.location for other in model.jobs
            )
            > 1
        ):
            raise UnsupportedFeature(
                READER,
                f"{owner}: setup time at a location other jobs share "
                "(VROOM skips it between them; nco adds it to the service)",
            )
        windows = job.time_windows
        jobs.append(
            Job(
                job.id,
                next(where),
                delivery,
                _amount(job.pickup, owner, "pickup"),
                float(job.setup + job.service),
                (windows[0][0], windows[0][1]) if windows else None,
                frozenset(job.skills),
                job.priority,
                job.description,
                None if job.prize is None else float(job.prize),
            )
        )
    vehicles = []
    for v in model.vehicles:
        start = next(where)
        end = next(where) if v.end is not None or v.end_index is not None else None
        capacity = math.inf if v.capacity is None else _amount(v.capacity, f"vehicle {v.id}", "capacity")
        vehicles.append(
            Vehicle(
                v.id,
                start,
                end,
                capacity if v.capacity else math.inf,
                frozenset(v.skills),
                (v.time_window[0], v.time_window[1]) if v.time_window else None,
                float(v.costs.fixed),
                float(v.costs.per_hour),
                float(v.costs.per_km),
                v.profile,
                v.max_tasks,
                math.inf if v.max_distance is None else float(v.max_distance),
                v.description,
            )
        )
    matrices = None
    if model.matrices is not None:
        matrices = {}
        for profile, matrix in model.matrices.items():
            duration = _square(matrix.durations, name, f"matrices[{profile!r}].durations")
            distance = (
                None
                if matrix.distances is None
                else _square(matrix.distances, name, f"matrices[{profile!r}].distances")
            )
            if distance is not None and distance.shape != duration.shape:
                raise StopsError(
                    f"{name}: matrices[{profile!r}]: distances {distance.shape} and durations "
                    f"{duration.shape} differ in shape"
                )
            matrices[profile] = Matrices(duration, distance)
    return Problem(tuple(jobs), tuple(vehicles), coordinates, matrices, "vroom", name)


def _square(rows: list[list[float]], name: str, key: str) -> np.ndarray:
    if any(len(row) != len(rows) for row in rows):
        raise StopsError(
            f"{name}: {key}: not a square matrix ({len(rows)} rows, row lengths {sorted({len(row) for row in rows})})"
        )
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(rows))


# -- solutions ----------------------------------------------------------------------------------
def schedule(problem: Problem, route: Sequence[int], vehicle_type: int) -> dict[str, np.ndarray]:
    """Arrival, waiting and service time at each step (start depot, the route's jobs, end depot unless
    open) from the evaluator's own timing (:func:`nco_core.evaluate.schedule`), plus the driving time
    and distance up to each step."""
    instance = problem.instance
    vehicle = instance.vehicle_types[vehicle_type]
    timed = evaluate_schedule(instance, route, vehicle_type)
    path = timed.nodes
    legs = instance.duration_matrix(vehicle.profile)[path[:-1], path[1:]]
    metres = instance.distance_matrix(vehicle.profile)[path[:-1], path[1:]]
    return {
        "node": path,
        "arrival": timed.arrival,
        "waiting_time": timed.waiting,
        "service": timed.service,
        "duration": np.concatenate([[0.0], np.cumsum(legs)]),
        "distance": np.concatenate([[0.0], np.cumsum(metres)]),
    }


def _number(value: float) -> int | float:
    """Integral values as JSON integers (VROOM's), others as they are."""
    value = float(value)
    return int(value) if math.isfinite(value) and value.is_integer() else value


def _route_vehicles(problem: Problem, solution: Solution) -> list[int]:
    """The vehicle (index) of each route: a type's routes take its vehicles in file order."""
    used = [0] * len(problem.vehicle_groups)
    vehicles = []
    for k in solution.vehicle_types:
        group = problem.vehicle_groups[k]
        vehicles.append(group[used[k]] if used[k] < len(group) else -1)
        used[k] += 1
    return vehicles


def vroom_solution(problem: Problem, solution: Solution) -> dict[str, Any]:
    """``solution`` in VROOM's output layout, with the problem's ids, locations and units."""
    instance = problem.instance
    jobs, coordinates = problem.jobs, problem.coordinates
    locations, depots = problem.node_locations, len(problem.depots)

    def place(node: int) -> dict[str, Any]:
        where: dict[str, Any] = {"location_index": int(locations[node])}
        if coordinates is not None:
            lat, lon = coordinates[locations[node]]
            where["location"] = [float(lon), float(lat)]
        return where

    routes: list[dict[str, Any]] = []
    served: set[int] = set()
    assigned = _route_vehicles(problem, solution)
    for route, k, v in zip(solution.routes, solution.vehicle_types, assigned, strict=True):
        times = schedule(problem, route, k)
        nodes = times["node"]
        load = instance.delivery[route].sum() + np.concatenate(
            [[0.0], np.cumsum(instance.backhaul[route] - instance.delivery[route])]
        )
        is_open = instance.vehicle_types[k].end_depot is None
        load = load if is_open else np.concatenate([load, load[-1:]])
        steps = []
        for i, node in enumerate(nodes):
            kind = "start" if i == 0 else "end" if node < depots else "job"
            step: dict[str, Any] = {"type": kind, **place(int(node))}
            if kind == "job":
                job = jobs[node - depots]
                served.add(int(node))
                step.update({"id": job.id, **({"description": job.description} if job.description else {})})
            step.update(
                {
                    "setup": 0,
                    "service": _number(times["service"][i] if kind == "job" else 0),
                    "waiting_time": _number(times["waiting_time"][i]),
                    "load": [_number(load[min(i, len(load) - 1)])],
                    "arrival": _number(times["arrival"][i]),
                    "duration": _number(times["duration"][i]),
                    "distance": _number(times["distance"][i]),
                }
            )
            steps.append(step)
        if is_open:
            steps.append(
                {
                    "type": "end",
                    **place(int(nodes[-1])),
                    "setup": 0,
                    "service": 0,
                    "waiting_time": 0,
                    "load": [_number(load[-1])],
                    "arrival": _number(times["arrival"][-1] + times["service"][-1]),
                    "duration": _number(times["duration"][-1]),
                    "distance": _number(times["distance"][-1]),
                }
            )
        cost = evaluate(instance, [route], [k]).cost  # this route's share of the evaluator's total
        routes.append(
            {
                "vehicle": problem.vehicles[v].id if v >= 0 else None,
                "cost": _number(cost),
                "setup": 0,
                "service": _number(times["service"].sum()),
                "duration": _number(times["duration"][-1]),
                "waiting_time": _number(times["waiting_time"].sum()),
                "priority": sum(jobs[n - depots].priority for n in route),
                "delivery": [_number(instance.delivery[route].sum())],
                "pickup": [_number(instance.backhaul[route].sum())],
                "distance": _number(times["distance"][-1]),
                "steps": steps,
                **(
                    {"description": problem.vehicles[v].description}
                    if v >= 0 and problem.vehicles[v].description
                    else {}
                ),
            }
        )
    unassigned = [
        {"id": job.id, "type": "job", **place(j + depots)} for j, job in enumerate(jobs) if j + depots not in served
    ]
    total = lambda key: _number(sum(route[key] for route in routes))  # noqa: E731
    return {
        "code": 0,
        "summary": {
            "cost": _number(solution.cost),
            "routes": len(routes),
            "unassigned": len(unassigned),
            "setup": 0,
            "service": total("service"),
            "duration": total("duration"),
            "waiting_time": total("waiting_time"),
            "priority": total("priority"),
            "delivery": [_number(sum(route["delivery"][0] for route in routes))],
            "pickup": [_number(sum(route["pickup"][0] for route in routes))],
            "distance": total("distance"),
            "computing_times": {"loading": 0, "solving": round(1000 * solution.runtime), "routing": 0},
        },
        "unassigned": unassigned,
        "routes": routes,
        "nco": {
            "feasible": solution.feasible,
            "violations": [v.message for v in solution.violations],
            "method": solution.method,
            "runtime": solution.runtime,
            "units": "seconds and metres",
        },
    }


def read_vroom_solution(path: str | Path, problem: Problem, *, data: dict | None = None) -> Solution:
    """Routes of a VROOM solution (VROOM's own output, or nco's) mapped to the problem's nodes by job
    and vehicle id, and scored by the evaluator; an id the problem lacks is an error naming it."""
    path = Path(path)
    try:
        answer = json.loads(path.read_text()) if data is None else data
    except json.JSONDecodeError as error:
        raise InstanceFileError(f"{path}: line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("routes"), list):
        raise InstanceFileError(f"{path}: not a VROOM solution (no 'routes' list)")
    node_of = {job.id: problem.job_node(j) for j, job in enumerate(problem.jobs)}
    type_of = {problem.vehicles[v].id: k for k, group in enumerate(problem.vehicle_groups) for v in group}
    routes, types = [], []
    for r, route in enumerate(answer["routes"]):
        vehicle = route.get("vehicle") if isinstance(route, dict) else None
        if vehicle not in type_of:
            raise InstanceFileError(f"{path}: routes[{r}]: vehicle id {vehicle!r} is not in {problem.name!r}")
        nodes = []
        for s, step in enumerate(route.get("steps", [])):
            if isinstance(step, dict) and step.get("type") == "job":
                if step.get("id") not in node_of:
                    raise InstanceFileError(
                        f"{path}: routes[{r}].steps[{s}]: job id {step.get('id')!r} is not in {problem.name!r}"
                    )
                nodes.append(node_of[step["id"]])
            elif isinstance(step, dict) and step.get("type") not in ("start", "end", "break"):
                raise UnsupportedFeature(READER, f"routes[{r}].steps[{s}]: a {step.get('type')!r} step")
        routes.append(nodes)
        types.append(type_of[vehicle])
    method = answer.get("nco", {}).get("method", "vroom-file") if isinstance(answer.get("nco"), dict) else "vroom-file"
    return Solution.of(problem.instance, routes, types, method=method)

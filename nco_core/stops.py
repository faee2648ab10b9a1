"""A user's stops and fleet (read from VROOM JSON or CSV) and the ``Instance`` they become.

Both readers produce one :class:`Problem`: jobs and vehicles with the user's own ids, their
locations as (lat, lon) and/or indices into given matrices. Matrices come from the file (VROOM
``matrices``) or from OSRM (``envs.osrm.stops``); :meth:`Problem.instance` then builds the validated
``Instance``.

Units stay the user's: seconds and metres (VROOM's and OSRM's), with no conversion at all, so a
VROOM file's integers go in and come back out unchanged. Costs follow VROOM: ``per_hour`` per hour
of driving and ``per_km`` per kilometre become ``unit_duration_cost = per_hour / 3600`` (per second)
and ``unit_distance_cost = per_km / 1000`` (per metre); VROOM's default (3600 per hour, 0 per km) is
one cost unit per second. Jobs are required unless they have a ``prize`` (an nco extension that
VROOM ignores): such a job is optional, and leaving it out costs its prize. nco charges a route's
whole duration (driving, service and waiting), VROOM its driving time, so the two objectives differ
by the waiting time (service is the same for any plan).

Every mistake is an error naming the job or vehicle id: duplicate ids, coordinates out of range
(latitude outside [-90, 90] usually means lat and lon were swapped), a skill no vehicle has, a job
no vehicle can carry. What the model cannot express (shipments, several time windows per job,
breaks, several-dimensional amounts, ...) raises ``UnsupportedFeature`` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from nco_core.instance import Instance, InstanceError, VehicleType

__all__ = ["Job", "Problem", "StopsError", "Vehicle"]

Id = int | str
Window = tuple[float, float]


class StopsError(InstanceError):
    """A stop or vehicle is wrong; the message names its id (and the file, when read from one)."""


@dataclass(frozen=True)
class Job:
    """One stop to serve; ``location`` indexes :attr:`Problem.coordinates` / the matrices."""

    id: Id
    location: int
    delivery: float = 0.0
    pickup: float = 0.0
    service: float = 0.0  # seconds, setup included
    time_window: Window | None = None
    skills: frozenset[Id] = frozenset()
    priority: int = 0
    description: str | None = None
    prize: float | None = None  # None: required; else optional, and leaving it out costs this much


@dataclass(frozen=True)
class Vehicle:
    """One vehicle: where it starts and ends (location indices), its capacity, shift and costs."""

    id: Id
    start: int
    end: int | None  # None: the route ends at its last job
    capacity: float = math.inf
    skills: frozenset[Id] = frozenset()
    time_window: Window | None = None
    fixed: float = 0.0
    per_hour: float = 3600.0
    per_km: float = 0.0
    profile: str = "car"
    max_tasks: int | None = None
    max_distance: float = math.inf  # metres
    description: str | None = None


@dataclass(frozen=True)
class Matrices:
    """Travel over the locations of one profile: seconds, and metres when known."""

    duration: np.ndarray
    distance: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Problem:
    """Jobs and vehicles with the user's ids; ``source`` says which file format they came from.

    ``coordinates`` is ``(L, 2)`` (lat, lon) per location, or None when the file gave only matrix
    indices; ``matrices`` maps a vehicle profile to its :class:`Matrices`, or is None until OSRM
    provides them. Nodes of the instance: the depots (distinct vehicle starts and ends) first, then
    job ``j`` as node ``len(depots) + j``.
    """

    jobs: tuple[Job, ...]
    vehicles: tuple[Vehicle, ...]
    coordinates: np.ndarray | None = None
    matrices: dict[str, Matrices] | None = None
    source: Literal["vroom", "csv"] = "vroom"
    name: str = "stops"

    def __post_init__(self) -> None:
        _check(self)

    # -- what the instance's indices mean ---------------------------------------------------------
    @property
    def num_locations(self) -> int:
        used = (
            [j.location for j in self.jobs]
            + [v.start for v in self.vehicles]
            + [v.end for v in self.vehicles if v.end is not None]
        )
        return max(used) + 1

    @cached_property
    def vehicle_groups(self) -> list[list[int]]:
        """Vehicle indices per vehicle type: identical vehicles (all but the id) share one type."""
        groups: dict[tuple, list[int]] = {}
        for v, vehicle in enumerate(self.vehicles):
            key = (
                vehicle.start,
                vehicle.end,
                vehicle.capacity,
                vehicle.skills,
                vehicle.time_window,
                vehicle.fixed,
                vehicle.per_hour,
                vehicle.per_km,
                vehicle.profile,
                vehicle.max_tasks,
                vehicle.max_distance,
            )
            groups.setdefault(key, []).append(v)
        return list(groups.values())

    @cached_property
    def depots(self) -> list[int]:
        """Location index of each depot: the distinct vehicle starts and ends, in order of appearance."""
        ends = [p for v in self.vehicles for p in (v.start, v.end) if p is not None]
        return list(dict.fromkeys(ends))

    @property
    def node_locations(self) -> np.ndarray:
        """Location index of every node: the depots, then the jobs in file order (job j is node D + j)."""
        return np.array([*self.depots, *(job.location for job in self.jobs)])

    def job_node(self, j: int) -> int:
        return len(self.depots) + j

    @cached_property
    def owners(self) -> dict[int, str]:
        """Who is at each location, for error messages ("job 'A7'", "vehicle 3 start")."""
        found: dict[int, str] = {}
        for job in self.jobs:
            found.setdefault(job.location, f"job {job.id!r}")
        for v in self.vehicles:
            found.setdefault(v.start, f"vehicle {v.id!r} start")
            if v.end is not None:
                found.setdefault(v.end, f"vehicle {v.id!r} end")
        return found

    def route_nodes(self, route: list[int], vehicle_type: int) -> list[int]:
        """The route's nodes with its vehicle type's depots: start, the jobs, the end unless open."""
        vehicle = self.instance.vehicle_types[vehicle_type]
        return [vehicle.start_depot, *route, *([] if vehicle.end_depot is None else [vehicle.end_depot])]

    def with_matrices(self, matrices: dict[str, Matrices], coordinates: np.ndarray | None = None) -> Problem:
        """The same problem with road matrices (and, optionally, the snapped coordinates)."""
        return Problem(
            self.jobs,
            self.vehicles,
            self.coordinates if coordinates is None else coordinates,
            matrices,
            self.source,
            self.name,
        )

    @cached_property
    def instance(self) -> Instance:
        """The validated Instance (needs matrices: from the file, or ``envs.osrm.stops``)."""
        if self.matrices is None:
            raise StopsError(
                f"{self.name}: no matrices: give the file a 'matrices' entry, or route the stops "
                "with OSRM (nco solve FILE --osrm-url URL | --pbf EXTRACT)"
            )
        return _instance(self)


# -- checks --------------------------------------------------------------------------------------
def _fail(problem: Problem, message: str) -> StopsError:
    return StopsError(f"{problem.name}: {message}")


def _check(problem: Problem) -> None:
    if not problem.jobs:
        raise _fail(problem, "no jobs")
    if not problem.vehicles:
        raise _fail(problem, "no vehicles")
    for what, items in (("job", problem.jobs), ("vehicle", problem.vehicles)):
        seen: set[Id] = set()
        for item in items:
            if item.id in seen:
                raise _fail(problem, f"{what} id {item.id!r} appears twice")
            seen.add(item.id)
    if problem.coordinates is not None:
        _check_coordinates(problem)
    held = set().union(*(v.skills for v in problem.vehicles))
    for job in problem.jobs:
        missing = sorted(map(str, job.skills - held))
        if missing:
            raise _fail(problem, f"job {job.id!r}: skill {missing[0]} is held by no vehicle")
        able = [v for v in problem.vehicles if job.skills <= v.skills]
        if not able:
            raise _fail(problem, f"job {job.id!r}: no vehicle has all its skills {sorted(map(str, job.skills))}")
        if not any(max(job.delivery, job.pickup) <= v.capacity for v in able):
            raise _fail(
                problem,
                f"job {job.id!r}: no vehicle can carry it (delivery {job.delivery:g}, pickup "
                f"{job.pickup:g}; largest capacity among vehicles with its skills "
                f"{max(v.capacity for v in able):g})",
            )
        if job.time_window is not None and job.time_window[0] > job.time_window[1]:
            raise _fail(problem, f"job {job.id!r}: time window {list(job.time_window)} is empty (start > end)")
    for vehicle in problem.vehicles:
        window = vehicle.time_window
        if window is not None and window[0] > window[1]:
            raise _fail(problem, f"vehicle {vehicle.id!r}: time window {list(window)} is empty (start > end)")
    for job in problem.jobs:  # skills and load fit some vehicle (checked above): its shift must fit too
        window = job.time_window
        if window is not None and not any(
            job.skills <= v.skills
            and max(job.delivery, job.pickup) <= v.capacity
            and (v.time_window is None or (window[1] >= v.time_window[0] and window[0] <= v.time_window[1]))
            for v in problem.vehicles
        ):
            raise _fail(
                problem,
                f"job {job.id!r}: its time window {list(window)} overlaps the shift of no vehicle "
                "that has its skills and capacity",
            )


def _check_coordinates(problem: Problem) -> None:
    coordinates = problem.coordinates
    assert coordinates is not None
    for location, owner in sorted(problem.owners.items()):
        lat, lon = coordinates[location]
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise _fail(problem, f"{owner}: coordinates ({lat}, {lon}) are missing or not numbers")
        if not -90 <= lat <= 90:
            raise _fail(
                problem,
                f"{owner}: latitude {lat:g} is outside [-90, 90] (longitude {lon:g}): "
                "are latitude and longitude swapped?",
            )
        if not -180 <= lon <= 180:
            raise _fail(problem, f"{owner}: longitude {lon:g} is outside [-180, 180]")


# -- the Instance ---------------------------------------------------------------------------------
def _instance(problem: Problem) -> Instance:
    matrices = problem.matrices
    assert matrices is not None
    profiles = sorted({v.profile for v in problem.vehicles})
    missing = [p for p in profiles if p not in matrices]
    if missing:
        raise _fail(problem, f"matrices: no matrix for vehicle profile {missing[0]!r} (have {sorted(matrices)})")
    nodes = problem.node_locations
    size = problem.num_locations
    for p in profiles:
        for key in ("duration", "distance"):
            matrix = getattr(matrices[p], key)
            if matrix is not None and matrix.shape[-1] < size:
                raise _fail(
                    problem,
                    f"matrices[{p!r}].{key}s: {matrix.shape[-1]} locations, but location index {size - 1} is used",
                )
    pick = lambda matrix: np.asarray(matrix, dtype=np.float64)[np.ix_(nodes, nodes)]  # noqa: E731
    duration = np.stack([pick(matrices[p].duration) for p in profiles])
    known = all(matrices[p].distance is not None for p in profiles)
    distance = np.stack([pick(matrices[p].distance) for p in profiles]) if known else duration
    jobs, depots = problem.jobs, problem.depots
    # One shift for a fleet that returns to where it started is the depots' opening hours: the same
    # constraint, in the form every method (the neural one too) models; else each type has its shift.
    shared = len({v.time_window for v in problem.vehicles}) == 1 and all(v.end == v.start for v in problem.vehicles)
    opening = problem.vehicles[0].time_window if shared else None
    fleet = []
    for group in problem.vehicle_groups:
        v = problem.vehicles[group[0]]
        if not known and (v.per_km or math.isfinite(v.max_distance)):
            raise _fail(problem, f"vehicle {v.id!r}: a per_km cost or max_distance, but the matrices have no distances")
        fleet.append(
            VehicleType(
                count=len(group),
                capacity=float(v.capacity),
                fixed_cost=float(v.fixed),
                profile=profiles.index(v.profile),
                unit_distance_cost=v.per_km / 1000 if known else 0.0,
                unit_duration_cost=v.per_hour / 3600,
                start_depot=depots.index(v.start),
                end_depot=None if v.end is None else depots.index(v.end),
                time_window=None if shared else v.time_window,
                max_tasks=v.max_tasks,
                max_distance=float(v.max_distance),
            )
        )
    allowed = None
    if any(job.skills for job in jobs):
        allowed = np.ones((len(fleet), len(nodes)), dtype=bool)
        for k, group in enumerate(problem.vehicle_groups):
            skills = problem.vehicles[group[0]].skills
            allowed[k, len(depots) :] = [job.skills <= skills for job in jobs]
    column = lambda key: np.array([0.0] * len(depots) + [getattr(job, key) for job in jobs])  # noqa: E731
    delivery, pickup, service = column("delivery"), column("pickup"), column("service")
    optional = any(job.prize is not None for job in jobs)
    prize = np.array([0.0] * len(depots) + [job.prize or 0.0 for job in jobs]) if optional else None
    required = np.array([True] * len(depots) + [job.prize is None for job in jobs]) if optional else None
    windows = None
    if opening is not None or any(job.time_window is not None for job in jobs):
        windows = _time_windows(problem, duration, service, opening)
    try:
        return Instance(
            distance=distance[0] if len(profiles) == 1 else distance,
            duration=duration[0] if len(profiles) == 1 else duration,
            coordinates=None if problem.coordinates is None else problem.coordinates[nodes],
            coordinate_system="latlon",
            demand=delivery if delivery.any() else None,
            pickup=pickup if pickup.any() else None,
            fleet=tuple(fleet),
            time_windows=windows,
            service_time=service if service.any() else None,
            allowed=allowed,
            prize=prize,
            required=required,
            num_depots=len(depots),
            name=problem.name,
        )
    except InstanceError as error:  # node indices mean nothing to the user: name the job
        raise _fail(
            problem,
            f"{error} (nodes 0..{len(depots) - 1} are the depots, node {len(depots)} + j is "
            "job number j in the file, from 0)",
        ) from None


def _time_windows(problem: Problem, duration: np.ndarray, service: np.ndarray, opening: Window | None) -> np.ndarray:
    """Rows for every node; depots (unless ``opening`` is their shared shift) and jobs without a window
    get the whole horizon (the vehicles' shifts bound them). VROOM's windows are unbounded by default,
    so the horizon is a time no route can reach: the latest window or shift bound plus all service
    plus the longest leg out of every node."""
    given = [b for job in problem.jobs if job.time_window is not None for b in job.time_window]
    given += [b for v in problem.vehicles if v.time_window is not None for b in v.time_window]
    finite = np.where(np.isfinite(duration), duration, 0.0)
    horizon = max(given) + float(service.sum()) + float(finite.max(axis=(0, 2)).sum())
    rows = [opening or (0.0, horizon)] * len(problem.depots)
    rows += [job.time_window if job.time_window is not None else (0.0, horizon) for job in problem.jobs]
    return np.array(rows, dtype=np.float64)

"""The problem model: one validated, immutable ``Instance`` covers every VRP variant nco supports.

Variants are data, not classes: an ACVRPTW is an instance whose ``time_windows`` field is set; a
profiled VRP (CAMP) is one with several vehicle types, per-profile matrices and ``allowed`` /
``preference`` matrices. Nodes ``0 .. num_depots - 1`` are depots (one by default), the rest
are clients; each vehicle type starts and ends at depots of its own (or ends open).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Literal

import numpy as np

__all__ = ["Instance", "InstanceError", "InstanceFileError", "VehicleType"]


class InstanceError(ValueError):
    """Invalid instance data; the message names the instance, the field and the offending index."""


class InstanceFileError(ValueError):
    """A file could not be read as an instance or solution; the message starts with the file name."""


@dataclass(frozen=True)
class VehicleType:
    """A group of identical vehicles.

    ``profile`` selects which distance/duration matrix the vehicles drive on (a car and a bike
    see different roads). Costs follow PyVRP's model so that every solver optimises the same
    objective: ``fixed_cost`` per used vehicle plus unit costs per distance and per duration.

    Routes leave ``start_depot`` and return to ``end_depot`` (``None``: the route ends after its
    last client's service, an open route). ``time_window`` is the shift: leave no earlier than
    its start, finish (arrive at the end depot, or end the last service) no later than its end.
    ``max_tasks`` caps the clients per route, ``max_distance`` the route's distance.
    """

    count: int
    capacity: float = math.inf
    fixed_cost: float = 0.0
    profile: int = 0
    max_duration: float = math.inf
    unit_distance_cost: float = 1.0
    unit_duration_cost: float = 0.0
    start_depot: int = 0
    end_depot: int | None = 0
    time_window: tuple[float, float] | None = None
    max_tasks: int | None = None
    max_distance: float = math.inf


def _fail(name: str, message: str) -> InstanceError:
    return InstanceError(f"instance {name!r}: {message}")


@dataclass(frozen=True, eq=False)
class Instance:
    """One routing instance as validated numpy arrays.

    Matrices are indexed ``[from, to]`` and may be asymmetric. ``distance`` (and ``duration``)
    is ``(N, N)`` for a single profile or ``(P, N, N)`` for ``P`` vehicle profiles.
    When ``duration`` is omitted, travel time equals distance (the Solomon convention).

    ``capacity``/``num_vehicles`` describe a homogeneous fleet; ``fleet`` a heterogeneous one
    (give one or the other). An unlimited fleet has one vehicle per customer.
    ``demand`` is delivered from the depot (linehaul), ``pickup`` brought back (backhaul);
    ``backhaul_mode="mixed"`` lets them interleave as long as the load never exceeds the
    capacity, ``"strict"`` requires every linehaul customer of a route before its backhauls.
    ``allowed[k, i]`` (vehicle type x node) forbids serving node ``i`` with type ``k``;
    ``preference[k, i]`` is subtracted from the cost when type ``k`` serves ``i``.

    ``num_depots`` depots come first (their ``time_windows`` rows are opening hours; they have
    no demand, pickup or prize, and a service time there is ignored). Clients with ``required[i] = False`` are optional:
    leaving one out costs its ``prize[i]`` (PyVRP's prize-collecting objective), so serving it
    pays when the detour is cheaper. ``open_routes=True`` is the shorthand for "every vehicle
    type ends open" (it overrides ``end_depot``); afterwards ``open_routes`` is True exactly
    when every vehicle type ends open, so there is one meaning however it was given.
    """

    distance: np.ndarray
    duration: np.ndarray | None = None
    coordinates: np.ndarray | None = None
    coordinate_system: Literal["xy", "latlon"] = "xy"
    demand: np.ndarray | None = None
    pickup: np.ndarray | None = None
    capacity: float | None = None
    num_vehicles: int | None = None
    fleet: tuple[VehicleType, ...] | None = None
    time_windows: np.ndarray | None = None
    service_time: np.ndarray | None = None
    max_route_duration: float | None = None
    open_routes: bool = False
    backhaul_mode: Literal["mixed", "strict"] = "mixed"
    allowed: np.ndarray | None = None
    preference: np.ndarray | None = None
    name: str = "instance"
    best_known_cost: float | None = None
    num_depots: int = 1
    prize: np.ndarray | None = None
    required: np.ndarray | None = None
    _vehicle_types: tuple[VehicleType, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731 (frozen)
        name = self.name
        distance = _matrix(name, "distance", self.distance)
        set_("distance", distance)
        size = distance.shape[-1]
        _typed(name, "num_depots", self.num_depots, int)
        if self.num_depots < 1:
            raise _fail(name, f"num_depots must be >= 1, got {self.num_depots}")
        if size < self.num_depots + 1:
            raise _fail(
                name, f"distance: need {self.num_depots} depot(s) and at least one customer, got {size} node(s)"
            )
        if self.duration is not None:
            duration = _matrix(name, "duration", self.duration)
            if duration.shape != distance.shape:
                raise _fail(name, f"duration: shape {duration.shape} differs from distance {distance.shape}")
            set_("duration", duration)
        _reachable(name, distance)

        if self.coordinates is not None:
            set_("coordinates", _array(name, "coordinates", self.coordinates, (size, 2), allow_negative=True))
            if self.coordinate_system not in ("xy", "latlon"):
                raise _fail(name, f"coordinate_system: expected 'xy' or 'latlon', got {self.coordinate_system!r}")
        for key in ("demand", "pickup", "service_time", "prize"):
            value = getattr(self, key)
            if value is not None:
                set_(key, _array(name, key, value, (size,)))
        if self.required is not None:
            set_("required", _array(name, "required", self.required, (size,), dtype=bool))
        self._check_depot_rows()
        if self.time_windows is not None:
            windows = _array(name, "time_windows", self.time_windows, (size, 2))
            empty = np.flatnonzero(windows[:, 0] > windows[:, 1])
            if empty.size:
                i = int(empty[0])
                raise _fail(name, f"time_windows[{i}] = [{windows[i, 0]}, {windows[i, 1]}] is empty (start > end)")
            set_("time_windows", windows)
        _typed(name, "open_routes", self.open_routes, bool)
        for key in ("capacity", "max_route_duration", "best_known_cost"):
            _typed(name, key, getattr(self, key), float, optional=True)
        _typed(name, "num_vehicles", self.num_vehicles, int, optional=True)
        if self.backhaul_mode not in ("mixed", "strict"):
            raise _fail(name, f"backhaul_mode: expected 'mixed' or 'strict', got {self.backhaul_mode!r}")
        if self.max_route_duration is not None and not self.max_route_duration > 0:
            raise _fail(name, f"max_route_duration must be positive, got {self.max_route_duration}")

        vehicle_types = self._build_fleet(size - self.num_depots)
        if self.open_routes:
            vehicle_types = tuple(replace(vehicle, end_depot=None) for vehicle in vehicle_types)
        set_("_vehicle_types", vehicle_types)
        set_("open_routes", all(vehicle.end_depot is None for vehicle in vehicle_types))
        num_profiles = 1 if distance.ndim == 2 else distance.shape[0]
        for k, vehicle in enumerate(vehicle_types):
            if not 0 <= vehicle.profile < num_profiles:
                raise _fail(name, f"fleet[{k}].profile = {vehicle.profile} but only {num_profiles} profile(s) exist")
            for attr in ("start_depot", "end_depot"):
                depot = getattr(vehicle, attr)
                if depot is not None and not 0 <= depot < self.num_depots:
                    raise _fail(name, f"fleet[{k}].{attr} = {depot} is not a depot (valid: 0..{self.num_depots - 1})")
        for key in ("allowed", "preference"):
            value = getattr(self, key)
            if value is not None:
                dtype = bool if key == "allowed" else np.float64
                shape = (len(vehicle_types), size)
                set_(key, _array(name, key, value, shape, dtype=dtype, allow_negative=True))
        self._check_demands_fit()
        self._check_allowed_cover()

    def _build_fleet(self, num_customers: int) -> tuple[VehicleType, ...]:
        name = self.name
        if self.fleet is not None:
            if self.capacity is not None or self.num_vehicles is not None:
                raise _fail(name, "give either fleet or capacity/num_vehicles, not both")
            if not self.fleet:
                raise _fail(name, "fleet: needs at least one vehicle type")
            for k, vehicle in enumerate(self.fleet):
                if not isinstance(vehicle, VehicleType):
                    raise _fail(name, f"fleet[{k}]: expected a VehicleType, got {type(vehicle).__name__}")
                _typed(name, f"fleet[{k}].count", vehicle.count, int)
                _typed(name, f"fleet[{k}].profile", vehicle.profile, int)
                _typed(name, f"fleet[{k}].start_depot", vehicle.start_depot, int)
                _typed(name, f"fleet[{k}].end_depot", vehicle.end_depot, int, optional=True)
                _typed(name, f"fleet[{k}].max_tasks", vehicle.max_tasks, int, optional=True)
                numbers = (
                    "capacity",
                    "fixed_cost",
                    "max_duration",
                    "unit_distance_cost",
                    "unit_duration_cost",
                    "max_distance",
                )
                for attr in numbers:
                    _typed(name, f"fleet[{k}].{attr}", getattr(vehicle, attr), float)
                if vehicle.count < 1:
                    raise _fail(name, f"fleet[{k}].count must be >= 1, got {vehicle.count}")
                for attr in numbers:
                    value = getattr(vehicle, attr)
                    if math.isnan(value) or value < 0:
                        raise _fail(name, f"fleet[{k}].{attr} must be a non-negative number, got {value}")
                if vehicle.max_tasks is not None and vehicle.max_tasks < 1:
                    raise _fail(name, f"fleet[{k}].max_tasks must be >= 1, got {vehicle.max_tasks}")
                _shift(name, k, vehicle.time_window)
            fleet = tuple(_normal_shift(vehicle) for vehicle in self.fleet)
            object.__setattr__(self, "fleet", fleet)
            return fleet
        if self.capacity is not None and not self.capacity > 0:
            raise _fail(name, f"capacity must be positive, got {self.capacity}")
        if self.num_vehicles is not None and self.num_vehicles < 1:
            raise _fail(name, f"num_vehicles must be >= 1, got {self.num_vehicles}")
        return (
            VehicleType(
                count=self.num_vehicles or num_customers,
                capacity=math.inf if self.capacity is None else float(self.capacity),
                max_duration=math.inf if self.max_route_duration is None else float(self.max_route_duration),
            ),
        )

    def _check_depot_rows(self) -> None:
        """Depots have no demand, pickup or prize (a service time at a depot is ignored, as it
        always was); a prize only means something for an optional client (a required one is
        served anyway)."""
        depots = self.num_depots
        for key in ("demand", "pickup", "prize"):
            value = getattr(self, key)
            if value is None:
                continue
            loaded = np.flatnonzero(value[:depots] != 0)
            if loaded.size:
                d = int(loaded[0])
                raise _fail(self.name, f"{key}[{d}] = {value[d]}: the depot (node {d}) has no {key}")
        if self.prize is not None:
            required = np.ones(self.num_nodes, dtype=bool) if self.required is None else self.required
            wasted = np.flatnonzero((self.prize > 0) & required)
            wasted = wasted[wasted >= depots]
            if wasted.size:
                i = int(wasted[0])
                raise _fail(
                    self.name,
                    f"prize[{i}] = {self.prize[i]} but client {i} is required "
                    f"(set required[{i}] = False to make it optional)",
                )

    def _check_demands_fit(self) -> None:
        largest = max(vehicle.capacity for vehicle in self._vehicle_types)
        for key in ("demand", "pickup"):
            value = getattr(self, key)
            if value is None:
                continue
            too_big = np.flatnonzero(value > largest)
            if too_big.size:
                i = int(too_big[0])
                raise _fail(self.name, f"{key}[{i}] = {value[i]} exceeds every vehicle's capacity ({largest})")

    def _check_allowed_cover(self) -> None:
        if self.allowed is None:
            return
        nobody = np.flatnonzero(~self.allowed[:, self.num_depots :].any(axis=0)) + self.num_depots
        if nobody.size:
            raise _fail(self.name, f"allowed[:, {int(nobody[0])}]: no vehicle type may serve node {int(nobody[0])}")

    # ----------------------------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        """Depots plus clients."""
        return int(self.distance.shape[-1])

    @property
    def num_customers(self) -> int:
        return self.num_nodes - self.num_depots

    @property
    def clients(self) -> np.ndarray:
        """Node indices of the clients (every node after the depots)."""
        return np.arange(self.num_depots, self.num_nodes)

    @property
    def is_required(self) -> np.ndarray:
        """``(N,)`` bool: which clients must be served (depots read True)."""
        return (
            np.ones(self.num_nodes, dtype=bool)
            if self.required is None
            else self.required | (np.arange(self.num_nodes) < self.num_depots)
        )

    @property
    def prizes(self) -> np.ndarray:
        return self.prize if self.prize is not None else np.zeros(self.num_nodes)

    @property
    def num_profiles(self) -> int:
        return 1 if self.distance.ndim == 2 else int(self.distance.shape[0])

    @property
    def vehicle_types(self) -> tuple[VehicleType, ...]:
        """The fleet, normalised: always at least one type, even for a plain ``capacity``."""
        return self._vehicle_types

    def distance_matrix(self, profile: int = 0) -> np.ndarray:
        return self.distance if self.distance.ndim == 2 else self.distance[profile]

    def duration_matrix(self, profile: int = 0) -> np.ndarray:
        """Travel times; the distance matrix stands in when no duration was given."""
        matrix = self.duration if self.duration is not None else self.distance
        return matrix if matrix.ndim == 2 else matrix[profile]

    @property
    def delivery(self) -> np.ndarray:
        return self.demand if self.demand is not None else np.zeros(self.num_nodes)

    @property
    def backhaul(self) -> np.ndarray:
        return self.pickup if self.pickup is not None else np.zeros(self.num_nodes)

    @property
    def service(self) -> np.ndarray:
        return self.service_time if self.service_time is not None else np.zeros(self.num_nodes)

    @property
    def is_asymmetric(self) -> bool:
        matrix = self.distance
        return not np.allclose(matrix, np.swapaxes(matrix, -1, -2))

    def features(self) -> dict[str, bool]:
        """Which variant features this instance uses, by the names of ``nco_core.features`` (the
        one vocabulary solvers, envs, presets and checkpoint cards dispatch on)."""
        from nco_core import features

        return features.of(self)

    def replace(self, **changes: object) -> Instance:
        """A validated copy with some fields changed."""
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        current.update(changes)
        return Instance(**current)

    def __repr__(self) -> str:
        used = [key for key, on in self.features().items() if on]
        return f"Instance(name={self.name!r}, customers={self.num_customers}, features={used})"


def _typed(name: str, key: str, value: object, kind: type, *, optional: bool = False) -> None:
    """Scalars must be of their type: ``"false"`` is not a bool, 1.5 vehicles is not a count, and
    ``True`` is not a number (numpy scalars of the right kind are accepted)."""
    if value is None and optional:
        return
    if kind is bool:
        ok = isinstance(value, (bool, np.bool_))
    elif kind is int:
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok:
        expected = {bool: "true or false", int: "an integer", float: "a number"}[kind]
        raise _fail(name, f"{key}: expected {expected}, got {value!r}")


def _shift(name: str, k: int, window: object) -> None:
    if window is None:
        return
    key = f"fleet[{k}].time_window"
    if not isinstance(window, (tuple, list, np.ndarray)) or len(window) != 2:
        raise _fail(name, f"{key}: expected a pair (start, end) or None, got {window!r}")
    for bound in window:
        _typed(name, key, bound, float)
    start, end = (float(x) for x in window)
    if math.isnan(start) or math.isnan(end) or start < 0 or not math.isfinite(start):
        raise _fail(name, f"{key} = {window!r}: the start must be a finite non-negative number")
    if start > end:
        raise _fail(name, f"{key} = [{start}, {end}] is empty (start > end)")


def _normal_shift(vehicle: VehicleType) -> VehicleType:
    """The shift as a tuple of floats (a list or numpy pair from a reader compares equal)."""
    if vehicle.time_window is None:
        return vehicle
    return replace(vehicle, time_window=(float(vehicle.time_window[0]), float(vehicle.time_window[1])))


def _numeric(name: str, key: str, value: object, dtype: type) -> np.ndarray:
    """``np.array`` that names the field when the value is ragged or not numeric."""
    try:
        return np.array(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise _fail(name, f"{key}: not a rectangular array of numbers ({error})") from None


def _matrix(name: str, key: str, value: object) -> np.ndarray:
    matrix = _numeric(name, key, value, np.float64)
    if matrix.ndim not in (2, 3) or matrix.shape[-1] != matrix.shape[-2]:
        raise _fail(name, f"{key}: expected a square (N, N) or (P, N, N) matrix, got shape {matrix.shape}")
    bad = np.argwhere(np.isnan(matrix) | (matrix == -np.inf))
    if bad.size:
        raise _fail(name, f"{key}{list(map(int, bad[0]))} is not a number ({matrix[tuple(bad[0])]})")
    negative = np.argwhere(matrix < 0)
    if negative.size:
        raise _fail(name, f"{key}{list(map(int, negative[0]))} = {matrix[tuple(negative[0])]} is negative")
    matrix.setflags(write=False)
    return matrix


def _reachable(name: str, distance: np.ndarray) -> None:
    """Infinite entries may forbid single arcs, but a node whose whole row (or column) is infinite
    can never be left (or reached), which no solver can repair."""
    stack = distance if distance.ndim == 3 else distance[None]
    finite = np.isfinite(stack) & ~np.eye(stack.shape[-1], dtype=bool)
    for axis, what, where in ((2, "cannot be left", "distance[{i}, :]"), (1, "cannot be reached", "distance[:, {i}]")):
        dead = np.argwhere(~finite.any(axis=axis))
        if dead.size:
            p, i = map(int, dead[0])
            prefix = f"profile {p}: " if distance.ndim == 3 else ""
            raise _fail(name, f"{prefix}node {i} {what}: {where.format(i=i)} has no finite off-diagonal entry")


def _array(
    name: str,
    key: str,
    value: object,
    shape: tuple[int, ...],
    *,
    dtype: type = np.float64,
    allow_negative: bool = False,
) -> np.ndarray:
    array = _numeric(name, key, value, dtype)
    if array.shape != shape:
        raise _fail(name, f"{key}: expected shape {shape}, got {array.shape}")
    if dtype is not bool:
        bad = np.argwhere(~np.isfinite(array))
        if bad.size:
            index = tuple(map(int, bad[0]))
            raise _fail(name, f"{key}{list(index)} = {array[index]} is not finite")
        if not allow_negative:
            negative = np.argwhere(array < 0)
            if negative.size:
                index = tuple(map(int, negative[0]))
                raise _fail(name, f"{key}{list(index)} = {array[index]} is negative")
    array.setflags(write=False)
    return array

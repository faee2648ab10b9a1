"""``InstanceBatch`` (B instances as stacked arrays) and the one table by which every ``Instance``
field crosses into the batch and back.

Each row of :data:`CROSSINGS` names the Instance fields it carries, the batch columns that hold
them, how one instance fills its columns (neutral values where a field is absent, padded to the
batch's K vehicle types and P profiles) and how one batch row gives the fields back. Stacking
(``envs.convert.instances_to_batch``), the round trip to instances (``envs.generators.to_instances``)
and the raw TensorDict entries of the env (``envs.env.RoutingEnv.reset``, by each column's
``tensor`` kind) all read this table, so a new field is one new row. Fields the env cannot carry
are listed in :data:`NOT_CARRIED` with the feature that refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from nco_core.instance import Instance, VehicleType

__all__ = ["COLUMNS", "CROSSINGS", "NOT_CARRIED", "NOT_CARRIED_VEHICLE", "Crossing", "InstanceBatch", "pack", "unpack"]


@dataclass(frozen=True)
class InstanceBatch:
    """B instances of n = N + 1 nodes (node 0 = depot) and K vehicle types, as stacked arrays.

    Absent attributes hold neutral values (zero demand, infinite capacity, windows ``[0, inf]``,
    everything allowed) so that one environment handles every mix; the ``has_*`` flags record
    which attributes an instance really has, for the round trip to ``Instance``. Vehicle types
    with ``vehicle_count == 0`` are padding. The fields are the columns of :data:`CROSSINGS`.
    """

    distance: np.ndarray  # (B, P, n, n)
    duration: np.ndarray  # (B, P, n, n)
    coordinates: np.ndarray  # (B, n, 2), zeros where has_coordinates is False
    has_coordinates: np.ndarray  # (B,) bool
    latlon: np.ndarray  # (B,) bool: coordinates are (lat, lon), not xy
    demand: np.ndarray  # (B, n) linehaul
    pickup: np.ndarray  # (B, n) backhaul
    time_windows: np.ndarray  # (B, n, 2)
    has_time_windows: np.ndarray  # (B,) bool
    service_time: np.ndarray  # (B, n)
    open_routes: np.ndarray  # (B,) bool
    strict_backhaul: np.ndarray  # (B,) bool
    vehicle_count: np.ndarray  # (B, K) int
    vehicle_capacity: np.ndarray  # (B, K)
    vehicle_profile: np.ndarray  # (B, K) int
    vehicle_max_duration: np.ndarray  # (B, K)
    vehicle_fixed_cost: np.ndarray  # (B, K)
    vehicle_unit_distance_cost: np.ndarray  # (B, K)
    vehicle_unit_duration_cost: np.ndarray  # (B, K)
    allowed: np.ndarray  # (B, K, n) bool
    preference: np.ndarray  # (B, K, n)
    has_profiles: np.ndarray  # (B,) bool: allowed/preference are part of the instance

    @property
    def batch_size(self) -> int:
        return int(self.distance.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.distance.shape[-1])

    def __getitem__(self, index: slice | np.ndarray) -> InstanceBatch:
        return InstanceBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass(frozen=True)
class Row:
    """One instance of a batch, as :attr:`Crossing.unpack` reads it: the live vehicle types
    (count > 0) and the profiles they drive on (padding types' profiles are dropped)."""

    batch: InstanceBatch
    b: int
    types: np.ndarray
    profiles: int

    def __getitem__(self, column: str) -> np.ndarray:
        return getattr(self.batch, column)[self.b]


Tensor = Literal["float", "int", "bool"]


@dataclass(frozen=True)
class Crossing:
    """``fields`` of ``Instance`` held in ``columns`` of the batch. ``pack(instance, K, P)``: the
    instance's columns, in order; ``unpack(row)``: Instance keyword arguments. ``tensors``: for
    each column, the kind of TensorDict entry the env copies it into as is (``None``: the env
    derives its own entries from it)."""

    fields: tuple[str, ...]
    columns: tuple[str, ...]
    pack: Callable[[Instance, int, int], tuple[Any, ...]]
    unpack: Callable[[Row], dict[str, Any]]
    tensors: tuple[Tensor | None, ...]


def _profiles(instance: Instance, P: int, duration: bool) -> np.ndarray:
    read = instance.duration_matrix if duration else instance.distance_matrix
    stack = np.stack([read(p) for p in range(instance.num_profiles)])
    return np.concatenate([stack, np.repeat(stack[:1], P - len(stack), 0)])  # padding is never driven on


def _matrices_back(row: Row) -> dict[str, Any]:
    single = row.profiles == 1
    distance, duration = (row[key][0] if single else row[key][: row.profiles] for key in ("distance", "duration"))
    return {"distance": distance, "duration": None if np.array_equal(duration, distance) else duration}


# VehicleType attribute -> (batch column, padding value, dtype); padding types have count 0.
_FLEET = {
    "count": ("vehicle_count", 0, np.int64),
    "capacity": ("vehicle_capacity", np.inf, np.float64),
    "profile": ("vehicle_profile", 0, np.int64),
    "max_duration": ("vehicle_max_duration", np.inf, np.float64),
    "fixed_cost": ("vehicle_fixed_cost", 0.0, np.float64),
    "unit_distance_cost": ("vehicle_unit_distance_cost", 0.0, np.float64),
    "unit_duration_cost": ("vehicle_unit_duration_cost", 0.0, np.float64),
}


def _fleet(instance: Instance, K: int) -> tuple[np.ndarray, ...]:
    types = instance.vehicle_types
    return tuple(
        np.array([getattr(v, attribute) for v in types] + [fill] * (K - len(types)), dtype=dtype)
        for attribute, (_, fill, dtype) in _FLEET.items()
    )


def _fleet_back(row: Row) -> dict[str, Any]:
    def vehicle(k: int) -> VehicleType:
        values: dict[str, Any] = {
            attribute: (int if dtype is np.int64 else float)(row[column][k])
            for attribute, (column, _, dtype) in _FLEET.items()
        }
        return VehicleType(**values)

    return {"fleet": tuple(vehicle(k) for k in row.types)}


def _per_type(value: np.ndarray | None, K: int, n: int, fill: float | bool) -> np.ndarray:
    base = np.full((K, n), fill, dtype=type(fill)) if value is None else value
    return np.concatenate([base, np.full((K - len(base), n), fill, dtype=base.dtype)])


_NO_WINDOWS = np.array([0.0, np.inf])

CROSSINGS: tuple[Crossing, ...] = (
    Crossing(
        ("distance", "duration"),
        ("distance", "duration"),
        lambda i, K, P: (_profiles(i, P, duration=False), _profiles(i, P, duration=True)),
        _matrices_back,
        ("float", None),
    ),
    Crossing(
        ("coordinates", "coordinate_system"),
        ("coordinates", "has_coordinates", "latlon"),
        lambda i, K, P: (
            np.zeros((i.num_nodes, 2)) if i.coordinates is None else i.coordinates,
            i.coordinates is not None,
            i.coordinate_system == "latlon",
        ),
        lambda r: {
            "coordinates": r["coordinates"] if r["has_coordinates"] else None,
            "coordinate_system": "latlon" if r["latlon"] else "xy",
        },
        (None, "bool", None),
    ),
    Crossing(
        ("demand", "pickup"),
        ("demand", "pickup"),
        lambda i, K, P: (i.delivery, i.backhaul),
        lambda r: {
            "demand": r["demand"] if r["demand"].any() or r["pickup"].any() else None,
            "pickup": r["pickup"] if r["pickup"].any() else None,
        },
        ("float", "float"),
    ),
    Crossing(
        ("time_windows",),
        ("time_windows", "has_time_windows"),
        lambda i, K, P: (
            np.tile(_NO_WINDOWS, (i.num_nodes, 1)) if i.time_windows is None else i.time_windows,
            i.time_windows is not None,
        ),
        lambda r: {"time_windows": r["time_windows"] if r["has_time_windows"] else None},
        ("float", None),
    ),
    Crossing(
        ("service_time",),
        ("service_time",),
        lambda i, K, P: (i.service,),
        lambda r: {"service_time": r["service_time"] if r["service_time"].any() else None},
        ("float",),
    ),
    Crossing(
        ("open_routes",),
        ("open_routes",),
        lambda i, K, P: (i.open_routes,),
        lambda r: {"open_routes": bool(r["open_routes"])},
        (None,),
    ),
    Crossing(
        ("backhaul_mode",),
        ("strict_backhaul",),
        lambda i, K, P: (i.backhaul_mode == "strict" and i.pickup is not None,),
        lambda r: {"backhaul_mode": "strict" if r["strict_backhaul"] else "mixed"},
        (None,),
    ),
    Crossing(
        # capacity / num_vehicles / max_route_duration are the shorthand of a one-type fleet
        ("fleet", "capacity", "num_vehicles", "max_route_duration"),
        tuple(column for column, _, _ in _FLEET.values()),
        lambda i, K, P: _fleet(i, K),
        _fleet_back,
        tuple("int" if dtype is np.int64 else "float" for _, _, dtype in _FLEET.values()),
    ),
    Crossing(
        ("allowed", "preference"),
        ("allowed", "preference", "has_profiles"),
        lambda i, K, P: (
            _per_type(i.allowed, K, i.num_nodes, True),
            _per_type(i.preference, K, i.num_nodes, 0.0),
            i.allowed is not None or i.preference is not None,
        ),
        lambda r: {
            "allowed": r["allowed"][r.types] if r["has_profiles"] else None,
            "preference": r["preference"][r.types] if r["has_profiles"] else None,
        },
        ("bool", "float", None),
    ),
)

COLUMNS: dict[str, Tensor | None] = {
    column: kind for crossing in CROSSINGS for column, kind in zip(crossing.columns, crossing.tensors, strict=True)
}

# Instance fields that never enter a batch, and why (the env refuses instances that use them,
# through the features named here: nco_core.features, ``neural=False``).
NOT_CARRIED: dict[str, str] = {
    "name": "given to to_instances",
    "best_known_cost": "not problem data",
    "num_depots": "feature multiple_depots",
    "prize": "feature optional_clients",
    "required": "feature optional_clients",
}
NOT_CARRIED_VEHICLE: dict[str, str] = {
    "start_depot": "feature multiple_depots",
    "end_depot": "features multiple_depots, mixed_route_ends (all-open fleets: open_routes)",
    "time_window": "feature shifts",
    "max_tasks": "feature max_tasks",
    "max_distance": "feature max_distance",
}


def pack(instances: Sequence[Instance]) -> InstanceBatch:
    """Stack instances of the same size; fewer vehicle types or profiles are padded (count 0)."""
    K = max(len(instance.vehicle_types) for instance in instances)
    P = max(instance.num_profiles for instance in instances)
    columns: dict[str, list[Any]] = {column: [] for column in COLUMNS}
    for instance in instances:
        for crossing in CROSSINGS:
            for column, value in zip(crossing.columns, crossing.pack(instance, K, P), strict=True):
                columns[column].append(value)
    return InstanceBatch(
        **{column: np.stack(values) if np.ndim(values[0]) else np.array(values) for column, values in columns.items()}
    )


def unpack(batch: InstanceBatch, name: str) -> list[Instance]:
    """One validated ``Instance`` per row, named ``{name}-{b}``."""
    instances = []
    for b in range(batch.batch_size):
        types = np.flatnonzero(batch.vehicle_count[b] > 0)
        row = Row(batch, b, types, int(batch.vehicle_profile[b, types].max()) + 1)
        values: dict[str, Any] = {}
        for crossing in CROSSINGS:
            values.update(crossing.unpack(row))
        instances.append(Instance(**values, name=f"{name}-{b}"))
    return instances

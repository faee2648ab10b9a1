"""nco's own JSON instance format: lossless, and checked field by field against a schema.

The schema (pydantic, strict) fixes every field's type and range — ``"open_routes": "false"`` is not
a boolean, 1.5 is not a vehicle count, ``"ten"`` is not a capacity — so a file is refused with its
name, the field's path and the problem before any array is built; shapes across fields (N) are
then the Instance's own checks. Infinities are written as ``Infinity`` (forbidden arcs).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from nco_core.instance import Instance, InstanceError, InstanceFileError, VehicleType
from nco_core.limits import check_memory

__all__ = ["JSON_FORMAT", "JSON_VERSION", "instance_from_json", "instance_to_json", "load_json", "solution_fields"]

JSON_FORMAT = "nco-instance"
JSON_VERSION = 1
PARSED_BYTES_PER_FILE_BYTE = 12  # json.loads of a number matrix: ~32 B of Python objects per 3-char entry

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Travel = Annotated[float, Field(ge=0)]  # +Infinity forbids an arc
Pair = Annotated[list[NonNegative], Field(min_length=2, max_length=2)]


def _depth(value: Any) -> str:
    """Which matrix form a value has: (N, N), or (P, N, N) with one matrix per vehicle profile."""
    nested = isinstance(value, list) and value and isinstance(value[0], list) and value[0]
    return "profiles" if nested and isinstance(value[0][0], list) else "matrix"


Matrix = Annotated[
    Annotated[list[list[Travel]], Tag("matrix")] | Annotated[list[list[list[Travel]]], Tag("profiles")],
    Discriminator(_depth),
]
TAGS = {"matrix", "profiles"}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _Vehicle(_Strict):
    count: Annotated[int, Field(ge=1)]
    capacity: Annotated[float, Field(ge=0)] = math.inf
    fixed_cost: NonNegative = 0.0
    profile: Annotated[int, Field(ge=0)] = 0
    max_duration: Annotated[float, Field(ge=0)] = math.inf
    unit_distance_cost: NonNegative = 1.0
    unit_duration_cost: NonNegative = 0.0
    start_depot: Annotated[int, Field(ge=0)] = 0
    end_depot: Annotated[int, Field(ge=0)] | None = 0  # null: the route ends at its last client
    time_window: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=2, max_length=2)] | None = None
    max_tasks: Annotated[int, Field(ge=1)] | None = None
    max_distance: Annotated[float, Field(ge=0)] = math.inf


class _InstanceFile(_Strict):
    """Every init field of :class:`nco.Instance`, typed and ranged."""

    distance: Matrix
    duration: Matrix | None = None
    coordinates: list[Annotated[list[Finite], Field(min_length=2, max_length=2)]] | None = None
    coordinate_system: Literal["xy", "latlon"] = "xy"
    demand: list[NonNegative] | None = None
    pickup: list[NonNegative] | None = None
    capacity: Annotated[float, Field(gt=0)] | None = None
    num_vehicles: Annotated[int, Field(ge=1)] | None = None
    fleet: Annotated[list[_Vehicle], Field(min_length=1)] | None = None
    time_windows: list[Pair] | None = None
    service_time: list[NonNegative] | None = None
    max_route_duration: Annotated[float, Field(gt=0)] | None = None
    open_routes: bool = False
    backhaul_mode: Literal["mixed", "strict"] = "mixed"
    allowed: list[list[bool]] | None = None
    preference: list[list[Finite]] | None = None
    name: str = "instance"
    best_known_cost: Finite | None = None
    num_depots: Annotated[int, Field(ge=1)] = 1
    prize: list[NonNegative] | None = None
    required: list[bool] | None = None


class _SolutionFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")  # cost, violations...: recomputed, never trusted
    routes: list[list[Annotated[int, Field(ge=0)]]]
    vehicle_types: list[Annotated[int, Field(ge=0)]] | None = None
    method: str = ""


def _problem(path: Path, error: ValidationError) -> InstanceFileError:
    """The first schema error as ``FILE: field LOC: problem (got VALUE)``."""
    first = error.errors(include_url=False)[0]
    where = ""
    for part in first["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        elif part not in TAGS:
            where += f".{part}" if where else str(part)
    got = repr(first.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    if first["type"] == "missing":
        return InstanceFileError(f"{path}: field {where}: required but missing")
    return InstanceFileError(f"{path}: field {where}: {first['msg']} (got {got})")


def load_json(path: Path, max_memory: int | None = None) -> dict[str, Any]:
    check_memory(
        path, f"{path.stat().st_size} bytes of JSON", PARSED_BYTES_PER_FILE_BYTE * path.stat().st_size, max_memory
    )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InstanceFileError(f"{path}: line {error.lineno}, column {error.colno}: {error.msg}") from None
    except (UnicodeDecodeError, RecursionError) as error:
        raise InstanceFileError(f"{path}: not a JSON text ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise InstanceFileError(f"{path}: expected a JSON object at the top level")
    return data


def instance_to_json(instance: Instance) -> dict[str, Any]:
    data: dict[str, Any] = {"format": JSON_FORMAT, "version": JSON_VERSION}
    for item in fields(instance):
        if not item.init:
            continue
        value = getattr(instance, item.name)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif item.name == "fleet" and value is not None:
            value = [asdict(vehicle) for vehicle in value]
        elif isinstance(value, np.generic):
            value = value.item()
        data[item.name] = value
    return data


def instance_from_json(path: Path, max_memory: int | None = None) -> Instance:
    data = load_json(path, max_memory)
    if data.pop("format", None) != JSON_FORMAT:
        raise InstanceFileError(f'{path}: not an nco instance (missing "format": "{JSON_FORMAT}")')
    version = data.pop("version", None)
    if version != JSON_VERSION or isinstance(version, bool):
        raise InstanceFileError(f"{path}: unsupported nco instance version {version!r} (this nco reads {JSON_VERSION})")
    known = {item.name for item in fields(Instance) if item.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InstanceFileError(f"{path}: unknown field(s) {unknown}")
    try:
        checked = _InstanceFile.model_validate(data)
    except ValidationError as error:
        raise _problem(path, error) from None
    kwargs = {name: getattr(checked, name) for name in data}
    if checked.fleet is not None:
        kwargs["fleet"] = tuple(VehicleType(**vehicle.model_dump()) for vehicle in checked.fleet)
    try:
        return Instance(**kwargs)
    except InstanceError as error:
        raise InstanceFileError(f"{path}: {error}") from None


def solution_fields(path: Path) -> tuple[list[list[int]], list[int] | None, str]:
    """Routes, vehicle types and method of an nco JSON solution (its costs are recomputed, not read)."""
    try:
        checked = _SolutionFile.model_validate(load_json(path))
    except ValidationError as error:
        raise _problem(path, error) from None
    return checked.routes, checked.vehicle_types, checked.method

"""Reading and writing instances and solutions.

VRPLIB / CVRPLIB / Solomon files go through the ``vrplib`` package; nco's own JSON format is
lossless (every Instance field, matrices included; infinities as ``Infinity``). Every write is
atomic: a temporary file in the target directory, then a rename, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import vrplib

from nco.instance import Instance, InstanceError, VehicleType
from nco.solution import Solution

__all__ = ["InstanceFileError", "atomic_path", "read", "read_solution", "write"]

JSON_FORMAT = "nco-instance"
JSON_VERSION = 1


class InstanceFileError(ValueError):
    """A file could not be read as an instance or solution; the message starts with the file name."""


def read(path: str | os.PathLike[str], format: str | None = None) -> Instance:
    """Read an instance from nco JSON, VRPLIB/CVRPLIB (``.vrp``, ``.txt``) or Solomon files.

    ``format`` is ``"json"``, ``"vrplib"`` or ``"solomon"``; by default it is detected from the
    extension and the file's first lines. A ``.sol`` file next to a VRPLIB file supplies
    ``best_known_cost``.
    """
    path = Path(path)
    if not path.is_file():
        raise InstanceFileError(f"{path}: no such file")
    kind = format or _detect_format(path)
    try:
        if kind == "json":
            return _instance_from_json(path)
        if kind not in ("vrplib", "solomon"):
            raise InstanceFileError(f"{path}: unknown format {kind!r} (expected json, vrplib or solomon)")
        return _instance_from_vrplib(path, kind)
    except InstanceError as error:
        raise InstanceFileError(f"{path}: {error}") from None


def read_solution(path: str | os.PathLike[str], instance: Instance) -> Solution:
    """Read routes from a VRPLIB ``.sol`` or nco JSON solution and score them on ``instance``."""
    path = Path(path)
    if not path.is_file():
        raise InstanceFileError(f"{path}: no such file")
    if path.suffix == ".json":
        data = _load_json(path)
        return Solution.of(instance, data["routes"], data.get("vehicle_types"), method=data.get("method", ""))
    try:
        routes = vrplib.read_solution(str(path))["routes"]
    except Exception as error:  # vrplib raises bare ValueError/IndexError on malformed files
        raise InstanceFileError(f"{path}: not a VRPLIB solution ({error})") from None
    return Solution.of(instance, routes, method="file")


def write(obj: Instance | Solution, path: str | os.PathLike[str]) -> Path:
    """Write an Instance (``.json`` or ``.vrp``) or a Solution (``.sol`` or ``.json``) atomically."""
    path = Path(path)
    if isinstance(obj, Instance):
        if path.suffix == ".vrp":
            with atomic_path(path) as tmp:
                vrplib.write_instance(tmp, _vrplib_sections(obj))
        else:
            with atomic_path(path) as tmp:
                Path(tmp).write_text(json.dumps(_instance_to_json(obj)))
    elif isinstance(obj, Solution):
        if path.suffix == ".json":
            with atomic_path(path) as tmp:
                Path(tmp).write_text(json.dumps(obj.to_dict(), indent=1))
        else:
            with atomic_path(path) as tmp:
                vrplib.write_solution(tmp, obj.routes, {"Cost": obj.cost, "Feasible": obj.feasible})
    else:
        raise TypeError(f"write() takes an Instance or a Solution, got {type(obj).__name__}")
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[str]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# -- detection ----------------------------------------------------------------------------------
def _detect_format(path: Path) -> str:
    if path.suffix == ".json":
        return "json"
    with path.open(errors="replace") as handle:
        head = [line.strip().upper() for _, line in zip(range(6), handle)]
    # Solomon files: a name line, then a VEHICLE block without "KEY : value" headers
    if any(line.startswith("VEHICLE") for line in head) and not any(":" in line for line in head):
        return "solomon"
    return "vrplib"


# -- VRPLIB / Solomon ---------------------------------------------------------------------------
def _instance_from_vrplib(path: Path, kind: str) -> Instance:
    try:
        data = vrplib.read_instance(str(path), instance_format=kind)
    except Exception as error:  # vrplib gives no file name and varied exception types
        raise InstanceFileError(f"{path}: cannot parse as {kind} ({type(error).__name__}: {error})") from None
    if "edge_weight" not in data:
        raise InstanceFileError(f"{path}: no EDGE_WEIGHT_SECTION and no NODE_COORD_SECTION to derive distances from")
    distance = np.asarray(data["edge_weight"], dtype=np.float64)
    if str(data.get("edge_weight_type", "")).upper() == "EUC_2D":
        distance = np.round(distance)  # TSPLIB/CVRPLIB convention: nearest integer
    size = distance.shape[0]
    depots = np.atleast_1d(data.get("depot", [0]))
    if depots.size != 1:
        raise InstanceFileError(f"{path}: {depots.size} depots found; nco supports one depot")
    order = _depot_first(int(depots[0]), size)
    field_of = {"demand": "demand", "backhaul": "pickup", "service_time": "service_time", "time_window": "time_windows"}
    kwargs: dict[str, Any] = {
        "name": str(data.get("name", path.stem)),
        "distance": distance[np.ix_(order, order)],
    }
    for key, name in field_of.items():
        if key in data:
            values = np.asarray(data[key], dtype=np.float64)
            if values.shape[0] != size:
                raise InstanceFileError(f"{path}: {key} section has {values.shape[0]} rows for {size} nodes")
            kwargs[name] = values[order]
    if "node_coord" in data:
        kwargs["coordinates"] = np.asarray(data["node_coord"], dtype=np.float64)[order]
    if "capacity" in data:
        kwargs["capacity"] = float(np.max(data["capacity"]))
    if "vehicles" in data:
        kwargs["num_vehicles"] = int(data["vehicles"])
    if "distance" in data and math.isfinite(float(data["distance"])):
        kwargs["max_route_duration"] = float(data["distance"])  # travel time = distance here
    if "demand" in kwargs and "capacity" not in kwargs:
        raise InstanceFileError(f"{path}: DEMAND_SECTION given but no CAPACITY")
    solution = path.with_suffix(".sol")
    if solution.is_file():
        try:
            kwargs["best_known_cost"] = float(vrplib.read_solution(str(solution))["cost"])
        except (KeyError, ValueError, IndexError):
            pass  # a .sol without a usable cost line simply gives no reference
    return Instance(**kwargs)


def _depot_first(depot: int, size: int) -> np.ndarray:
    if not 0 <= depot < size:
        raise InstanceError(f"depot index {depot} is outside 0..{size - 1}")
    return np.array([depot, *(i for i in range(size) if i != depot)])


def _vrplib_sections(instance: Instance) -> dict[str, Any]:
    """Explicit full-matrix VRPLIB; only what the format can express (JSON is the lossless one)."""
    unsupported = [key for key in ("multiple_profiles", "heterogeneous_fleet", "allowed", "preference") if instance.features()[key]]
    if unsupported or instance.open_routes:
        raise ValueError(f"VRPLIB cannot express {unsupported or ['open_routes']}: write {instance.name!r} as .json")
    vehicle = instance.vehicle_types[0]
    sections: dict[str, Any] = {
        "NAME": instance.name,
        "TYPE": "VRPTW" if instance.time_windows is not None else "CVRP",
        "DIMENSION": instance.num_nodes,
        "EDGE_WEIGHT_TYPE": "EXPLICIT",
        "EDGE_WEIGHT_FORMAT": "FULL_MATRIX",
        "VEHICLES": vehicle.count,
    }
    if math.isfinite(vehicle.capacity):
        sections["CAPACITY"] = vehicle.capacity
    sections["EDGE_WEIGHT_SECTION"] = instance.distance
    if instance.coordinates is not None:
        sections["NODE_COORD_SECTION"] = instance.coordinates
    sections["DEMAND_SECTION"] = instance.delivery
    if instance.pickup is not None:
        sections["BACKHAUL_SECTION"] = instance.pickup
    if instance.time_windows is not None:
        sections["TIME_WINDOW_SECTION"] = instance.time_windows
    if instance.service_time is not None:
        sections["SERVICE_TIME_SECTION"] = instance.service_time
    sections["DEPOT_SECTION"] = np.array([1, -1])
    return sections


# -- nco JSON -----------------------------------------------------------------------------------
def _instance_to_json(instance: Instance) -> dict[str, Any]:
    data: dict[str, Any] = {"format": JSON_FORMAT, "version": JSON_VERSION}
    for item in fields(instance):
        if not item.init:
            continue
        value = getattr(instance, item.name)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif item.name == "fleet" and value is not None:
            value = [asdict(vehicle) for vehicle in value]
        data[item.name] = value
    return data


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InstanceFileError(f"{path}: line {error.lineno}, column {error.colno}: {error.msg}") from None
    if not isinstance(data, dict):
        raise InstanceFileError(f"{path}: expected a JSON object at the top level")
    return data


def _instance_from_json(path: Path) -> Instance:
    data = _load_json(path)
    if data.pop("format", None) != JSON_FORMAT:
        raise InstanceFileError(f"{path}: not an nco instance (missing \"format\": \"{JSON_FORMAT}\")")
    version = data.pop("version", None)
    if version != JSON_VERSION:
        raise InstanceFileError(f"{path}: unsupported nco instance version {version!r} (this nco reads {JSON_VERSION})")
    known = {item.name for item in fields(Instance) if item.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InstanceFileError(f"{path}: unknown field(s) {unknown}")
    if "distance" not in data:
        raise InstanceFileError(f"{path}: missing required field 'distance'")
    if data.get("fleet") is not None:
        try:
            data["fleet"] = tuple(VehicleType(**vehicle) for vehicle in data["fleet"])
        except TypeError as error:
            raise InstanceFileError(f"{path}: fleet: {error}") from None
    return Instance(**data)

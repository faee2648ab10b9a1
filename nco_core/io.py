"""Reading and writing instances and solutions.

VRPLIB / CVRPLIB / Solomon files go through the ``vrplib`` package; nco's own JSON format is
lossless (every Instance field, matrices included; infinities as ``Infinity``). Every write is
atomic: a temporary file in the target directory, then a rename, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import vrplib

from nco_core.instance import Instance, InstanceError, InstanceFileError
from nco_core.json_io import instance_from_json, instance_to_json, solution_fields
from nco_core.solution import Solution
from nco_core.stops import Problem
from nco_core.vrplib_io import read_vrplib, solution_routes

__all__ = ["InstanceFileError", "atomic_path", "read", "read_problem", "read_solution", "write"]


def read(path: str | os.PathLike[str], format: str | None = None, *, max_memory: int | None = None) -> Instance:
    """Read an instance from nco JSON, VRPLIB/CVRPLIB (``.vrp``, ``.txt``), Solomon or VROOM files.

    ``format`` is ``"json"``, ``"vrplib"``, ``"solomon"`` or ``"vroom"``; by default it is detected
    from the extension and the file's content (a JSON file with ``jobs`` or ``shipments`` is a VROOM
    problem: it needs ``matrices`` here, else route it with :func:`read_problem` and
    ``envs.osrm.stops.road_problem``; :func:`read_problem` also keeps its ids for the VROOM output).
    A ``.sol`` file next to a VRPLIB file supplies
    ``best_known_cost``. Raises InstanceFileError (naming the file, the field or section and the
    problem) for malformed files, and UnsupportedFeature for a section nco cannot model.
    ``max_memory`` (bytes) bounds the estimated memory of the dense matrices, checked before they
    are built (default: ``NCO_MAX_MEMORY_GB`` or half the machine's memory; see nco_core.limits).
    """
    path = Path(path)
    if not path.is_file():
        raise InstanceFileError(f"{path}: no such file")
    kind = format or _detect_format(path)
    try:
        if kind == "json":
            return instance_from_json(path, max_memory)
        if kind in ("vroom", "csv"):
            return read_problem(path).instance
        if kind not in ("vrplib", "solomon"):
            raise InstanceFileError(f"{path}: unknown format {kind!r} (expected json, vrplib, solomon or vroom)")
        return read_vrplib(path, kind, max_memory)
    except InstanceError as error:
        raise InstanceFileError(f"{path}: {error}") from None


def read_problem(path: str | os.PathLike[str], fleet: str | os.PathLike[str] | None = None) -> Problem:
    """A user's stops with their ids and locations: a VROOM problem JSON, or a stops CSV (with a fleet
    CSV); ``problem.instance`` is the Instance once it has matrices (from the file, or from OSRM)."""
    from nco_core.csv_io import read_stops_csv
    from nco_core.vroom_io import read_vroom

    path = Path(path)
    if not path.is_file():
        raise InstanceFileError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return read_stops_csv(path, fleet)
    if fleet is not None:
        raise InstanceFileError(f"{fleet}: a fleet file goes with a stops CSV; {path} has its own vehicles")
    return read_vroom(path)


def read_solution(path: str | os.PathLike[str], instance: Instance) -> Solution:
    """Read routes from a VRPLIB ``.sol`` or nco JSON solution and score them on ``instance``."""
    path = Path(path)
    if not path.is_file():
        raise InstanceFileError(f"{path}: no such file")
    if path.suffix == ".json":
        routes, vehicle_types, method = solution_fields(path)
        try:
            return Solution.of(instance, routes, vehicle_types, method=method)
        except ValueError as error:  # vehicle types missing for a mixed fleet, or miscounted
            raise InstanceFileError(f"{path}: {error}") from None
    routes, vehicle_types = solution_routes(path, instance)
    return Solution.of(instance, routes, vehicle_types, method="file")


def write(
    obj: Instance | Solution, path: str | os.PathLike[str], format: str | None = None, *, problem: Problem | None = None
) -> Path:
    """Write an Instance (``.json`` or ``.vrp``) or a Solution (``.sol`` or ``.json``) atomically.

    ``format="vroom"`` writes a Solution in VROOM's output layout with the ids, locations and units of
    ``problem`` (the :func:`read_problem` it solves)."""
    path = Path(path)
    if format == "vroom":
        from nco_core.vroom_io import vroom_solution

        if not isinstance(obj, Solution) or problem is None:
            raise ValueError(
                "write(..., format='vroom') takes a Solution and the problem it solves: "
                "write(solution, path, format='vroom', problem=read_problem(file))"
            )
        document = vroom_solution(problem, obj)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(document, indent=1))
        return path
    if format is not None:
        raise ValueError(f"write: unknown format {format!r} (expected 'vroom', or none: from the extension)")
    if isinstance(obj, Instance):
        if path.suffix == ".vrp":
            with atomic_path(path) as tmp:
                vrplib.write_instance(tmp, _vrplib_sections(obj))
        else:
            with atomic_path(path) as tmp:
                Path(tmp).write_text(json.dumps(instance_to_json(obj)))
    elif isinstance(obj, Solution):
        if path.suffix == ".json":
            with atomic_path(path) as tmp:
                Path(tmp).write_text(json.dumps(obj.to_dict(), indent=1))
        else:
            with atomic_path(path) as tmp:
                types = " ".join(map(str, obj.vehicle_types))  # a mixed fleet's .sol needs them to read back
                extra = {"Cost": obj.cost, "Feasible": obj.feasible, "Vehicle types": types}
                vrplib.write_solution(tmp, obj.routes, extra)
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
VROOM_KEY = re.compile(r'"(jobs|shipments)"\s*:')  # keys nco's own (strict) JSON schema never has
CHUNK = 1 << 20


def _has_vroom_keys(path: Path) -> bool:
    """Scan for VROOM's keys in 1 MB chunks (the file may be far larger than memory allows parsing,
    which the JSON reader checks before it parses)."""
    tail = ""
    with path.open(errors="replace") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), ""):
            if VROOM_KEY.search(tail + chunk):
                return True
            tail = chunk[-64:]  # a key split across two chunks
    return False


def is_stops_file(path: str | os.PathLike[str]) -> bool:
    """A user's stops (:func:`read_problem`): a stops CSV or a VROOM problem JSON."""
    return Path(path).is_file() and _detect_format(Path(path)) in ("vroom", "csv")


def _detect_format(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix == ".json":
        return "vroom" if _has_vroom_keys(path) else "json"
    with path.open(errors="replace") as handle:
        head = [line.strip().upper() for _, line in zip(range(6), handle, strict=False)]
    # Solomon files: a name line, then a VEHICLE block without "KEY : value" headers
    if any(line.startswith("VEHICLE") for line in head) and not any(":" in line for line in head):
        return "solomon"
    return "vrplib"


# -- VRPLIB writing ------------------------------------------------------------------------------
def _vrplib_sections(instance: Instance) -> dict[str, Any]:
    """Explicit full-matrix VRPLIB; only what the format can express (JSON is the lossless one).
    A mixed fleet is written in PyVRP's dialect (one row per vehicle), which the reader groups back
    into types. Coordinates are written for reference; their system (``"latlon"``) is not."""
    features = instance.features()
    unsupported = [
        key
        for key in (
            "multiple_profiles",
            "preference",
            "open_routes",
            "strict_backhaul",
            "duration_cost",
            "multiple_depots",
            "mixed_route_ends",
            "shifts",
            "max_tasks",
            "max_distance",
            "optional_clients",
        )
        if features[key]
    ]
    if instance.duration is not None and not np.array_equal(instance.duration, instance.distance):
        unsupported.append("duration differing from distance")
    if any(mark in instance.name for mark in ("\n", "\r", "_SECTION")):
        unsupported.append("this name (a line break or '_SECTION' would end the NAME line)")
    types = instance.vehicle_types
    if len(set(types)) < len(types):
        unsupported.append("identical vehicle types")  # the reader would merge them into one
    if unsupported:
        raise ValueError(f"VRPLIB cannot express {unsupported}: write {instance.name!r} as .json")
    sections: dict[str, Any] = {
        "NAME": instance.name,
        "TYPE": "VRPTW" if instance.time_windows is not None else "CVRP",
        "DIMENSION": instance.num_nodes,
        "EDGE_WEIGHT_TYPE": "EXPLICIT",
        "EDGE_WEIGHT_FORMAT": "FULL_MATRIX",
    }
    if instance.fleet is None and (features["fixed_cost"] or types[0].unit_distance_cost != 1):
        raise ValueError(f"VRPLIB cannot express costs of a homogeneous fleet: write {instance.name!r} as .json")
    if instance.fleet is None:
        if instance.num_vehicles is not None:
            sections["VEHICLES"] = instance.num_vehicles
        if instance.capacity is not None or instance.demand is not None:  # demands need a CAPACITY line, maybe inf
            sections["CAPACITY"] = types[0].capacity
        if math.isfinite(types[0].max_duration):
            sections["VEHICLES_MAX_DURATION"] = types[0].max_duration
    else:
        sections.update(_fleet_sections(instance))
    sections["EDGE_WEIGHT_SECTION"] = instance.distance
    if instance.coordinates is not None:
        sections["NODE_COORD_SECTION"] = instance.coordinates
    for key, value in (
        ("DEMAND_SECTION", instance.demand),
        ("BACKHAUL_SECTION", instance.pickup),
        ("TIME_WINDOW_SECTION", instance.time_windows),
        ("SERVICE_TIME_SECTION", instance.service_time),
    ):
        if value is not None:
            sections[key] = value
    if instance.fleet is not None and instance.allowed is not None:
        clients = [(np.flatnonzero(row[1:]) + 2).tolist() for row in instance.allowed]  # 1-based node numbers
        sections["VEHICLES_ALLOWED_CLIENTS_SECTION"] = [
            clients[k] for k, v in enumerate(instance.fleet) for _ in range(v.count)
        ]
    sections["DEPOT_SECTION"] = np.array([1, -1])
    return sections


def _fleet_sections(instance: Instance) -> dict[str, Any]:
    """PyVRP's per-vehicle sections: every vehicle of every type, one row each."""
    fleet = instance.vehicle_types
    column = lambda attr: np.repeat([getattr(v, attr) for v in fleet], [v.count for v in fleet])  # noqa: E731
    sections: dict[str, Any] = {
        "VEHICLES": sum(v.count for v in fleet),
        "CAPACITY_SECTION": column("capacity"),
        "VEHICLES_FIXED_COST_SECTION": column("fixed_cost"),
        "VEHICLES_UNIT_DISTANCE_COST_SECTION": column("unit_distance_cost"),
    }
    if any(math.isfinite(v.max_duration) for v in fleet):
        sections["VEHICLES_MAX_DURATION_SECTION"] = column("max_duration")
    return sections

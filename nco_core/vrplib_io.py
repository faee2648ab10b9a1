"""VRPLIB / CVRPLIB / Solomon files (PyVRP's dialect included) into an Instance, checked against DIMENSION.

Parsing is the ``vrplib`` package's; this module decides what each key means for nco's model. Every
key of a file is read into the model (heterogeneous fleets with fixed and unit costs, vehicle-client
restrictions, route duration limits), known to carry nothing nco needs (NAME, COMMENT...), or refused
with :class:`~nco_core.errors.UnsupportedFeature` naming it (prizes, release times, reloads, client
groups, several depots): nothing in a file is silently dropped. Every per-node section must have
DIMENSION rows, so a file cut at a line boundary is an error, not a smaller instance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import vrplib
from vrplib.parse import parse_solomon, parse_vrplib
from vrplib.parse.parse_distances import parse_distances

from nco_core.errors import UnsupportedFeature
from nco_core.evaluate import evaluate
from nco_core.instance import Instance, InstanceFileError, VehicleType
from nco_core.limits import DENSE_COPIES, PARSED_ENTRY_BYTES, check_memory

__all__ = ["read_vrplib", "solution_routes"]

# keys that describe the file, not the problem
DESCRIPTIVE = {
    "name",
    "comment",
    "type",
    "dimension",
    "edge_weight_type",
    "edge_weight_format",
    "node_coord_type",
    "display_data_type",
}
# keys the model has no place for, with what they mean
UNSUPPORTED = {
    "prize": "prizes of optional clients: a prize-collecting VRP",
    "release_time": "release times: a client's goods are ready only from a given time",
    "vehicles_reload_depot": "reloading at the depot during a route: a multi-trip VRP",
    "vehicles_max_reloads": "reloading at the depot during a route: a multi-trip VRP",
    "mutually_exclusive_group": "client groups of which only one is visited: a generalised VRP",
    "vehicles_depot": "vehicles based at different depots",
    "pickup_and_delivery": "paired pickups and deliveries",
    "vehicles_max_distance": "a distance limit per route; nco limits route durations",
    "capacity_vol": "a second capacity dimension",
}
PER_NODE = {
    "node_coord": 2,
    "demand": 1,
    "linehaul": 1,
    "backhaul": 1,
    "time_window": 2,
    "service_time": 1,
    "display_data": 2,
}
PER_VEHICLE = {
    "capacity": "capacity",
    "vehicles_fixed_cost": "fixed_cost",
    "vehicles_unit_distance_cost": "unit_distance_cost",
    "vehicles_max_duration": "max_duration",
}
KNOWN = (
    DESCRIPTIVE
    | set(PER_NODE)
    | set(PER_VEHICLE)
    | {"edge_weight", "depot", "vehicles", "distance", "vehicles_allowed_clients"}
)
EDGE_WEIGHT_TYPES = {"EUC_2D", "FLOOR_2D", "CEIL_2D", "EXACT_2D", "EXPLICIT"}
EDGE_WEIGHT_FORMATS = {"FULL_MATRIX", "LOWER_ROW"}


def read_vrplib(path: Path, kind: str, max_memory: int | None = None) -> Instance:
    """Read a VRPLIB (``kind="vrplib"``) or Solomon (``"solomon"``) file."""
    if kind == "vrplib":
        header = _header(path)
        size = _dimension(path, header)
        explicit = _edge_weights(path, header)
        per_entry = 8 * DENSE_COPIES + (PARSED_ENTRY_BYTES if explicit else 0)
        check_memory(path, f"DIMENSION {size} (dense {size} x {size} matrices)", per_entry * size**2, max_memory)
    else:
        size = None  # Solomon files have no DIMENSION: one line per node bounds it
        lines = sum(1 for _ in path.open("rb"))
        check_memory(path, f"up to {lines} nodes (dense matrices)", 8 * DENSE_COPIES * lines**2, max_memory)
    try:  # distances are computed only once the sections are checked against DIMENSION
        text = path.read_text()
        if kind == "solomon":
            data = parse_solomon(text, compute_edge_weights=False)
        else:
            # vrplib stops at the first line containing "EOF" anywhere ("NAME: GEOFF"): the descriptive
            # NAME and COMMENT lines are read by _header instead and kept out of its way
            data = parse_vrplib(
                "\n".join(line for line in text.splitlines() if not _descriptive(line)), compute_edge_weights=False
            )
            if "name" in header:
                data["name"] = header["name"]
    except Exception as error:  # noqa: BLE001 - vrplib gives no file name and varied exception types
        raise InstanceFileError(f"{path}: cannot parse as {kind} ({type(error).__name__}: {error})") from None
    _refuse_unmodelled(path, data)
    return _build(path, data, size)


def _descriptive(line: str) -> bool:
    key, colon, _ = line.partition(":")
    return bool(colon) and key.strip().upper() in ("NAME", "COMMENT") and "_SECTION" not in line


def _distances(path: Path, data: dict[str, Any], nodes: dict[str, np.ndarray]) -> np.ndarray:
    if "edge_weight" in data:
        return _numbers(path, "edge_weight", data["edge_weight"])
    if "node_coord" not in nodes:
        raise InstanceFileError(f"{path}: no EDGE_WEIGHT_SECTION and no NODE_COORD_SECTION to derive distances from")
    kind = str(data.get("edge_weight_type", "EUC_2D"))  # Solomon files: Euclidean
    with np.errstate(over="ignore", invalid="ignore"):  # absurd coordinates give NaN, which Instance refuses
        return parse_distances([], kind, node_coord=nodes["node_coord"])


# -- before parsing -----------------------------------------------------------------------------
def _header(path: Path) -> dict[str, str]:
    """``KEY : value`` lines before the first section, read without loading the file."""
    header: dict[str, str] = {}
    with path.open(errors="replace") as handle:
        for line in handle:
            if "_SECTION" in line or line.strip() == "EOF":
                break
            key, colon, value = line.partition(":")
            if colon:
                header[key.strip().lower()] = value.strip()
    return header


def _dimension(path: Path, header: dict[str, str]) -> int:
    if "dimension" not in header:
        raise InstanceFileError(f"{path}: no DIMENSION line (the number of nodes, depot included)")
    text = header["dimension"]
    if not text.isdigit() or int(text) < 2:
        raise InstanceFileError(f"{path}: DIMENSION {text!r}: expected an integer >= 2 (depot and customers)")
    return int(text)


def _edge_weights(path: Path, header: dict[str, str]) -> bool:
    """Whether the matrix is written out (EXPLICIT); refuses types vrplib cannot compute."""
    kind = header.get("edge_weight_type", "").upper()
    if kind not in EDGE_WEIGHT_TYPES:
        raise _unsupported(
            path, f"EDGE_WEIGHT_TYPE {kind or '(missing)'}", f"distances must be {', '.join(sorted(EDGE_WEIGHT_TYPES))}"
        )
    if kind == "EXPLICIT":
        form = header.get("edge_weight_format", "").upper()
        if form not in EDGE_WEIGHT_FORMATS:
            raise _unsupported(
                path,
                f"EDGE_WEIGHT_FORMAT {form or '(missing)'}",
                f"explicit matrices must be {' or '.join(sorted(EDGE_WEIGHT_FORMATS))}",
            )
    return kind == "EXPLICIT"


# -- after parsing ------------------------------------------------------------------------------
def _unsupported(path: Path, key: str, meaning: str) -> UnsupportedFeature:
    return UnsupportedFeature("nco's problem model", f"{key} in {path} ({meaning})")


def _label(key: str, value: object) -> str:
    """The key as written in the file."""
    return key.upper() + ("_SECTION" if isinstance(value, (list, np.ndarray)) else "")


def _refuse_unmodelled(path: Path, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key in UNSUPPORTED:
            raise _unsupported(path, _label(key, value), UNSUPPORTED[key])
        if key not in KNOWN:
            raise _unsupported(path, _label(key, value), "not part of nco's problem model")
    depots = np.atleast_1d(data.get("depot", [0]))
    if depots.size != 1:
        raise _unsupported(path, "DEPOT_SECTION", f"{depots.size} depots; nco models one depot")


def _numbers(path: Path, key: str, value: object) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InstanceFileError(f"{path}: {_label(key, value)}: expected rows of numbers, {_odd_row(value)}") from None


def _odd_row(value: object) -> str:
    """Where a section stops being a table of numbers (rows as parsed: the index column removed)."""
    parsed = value if isinstance(value, Iterable) else [value]
    rows = [list(np.atleast_1d(np.asarray(row, dtype=object))) for row in parsed]
    for i, row in enumerate(rows):
        words = [str(item) for item in row if isinstance(item, str) and not _is_number(item)]
        if words:
            return f"but data row {i + 1} holds {words[0]!r}"
        if len(row) != len(rows[0]):
            return f"but data row {i + 1} has {len(row)} value(s) and row 1 has {len(rows[0])}"
    return "found something else"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _integer(path: Path, key: str, value: object, minimum: int) -> int:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise InstanceFileError(f"{path}: {key.upper()} {value!r}: expected an integer >= {minimum}")
    return int(value)


def _per_node(path: Path, key: str, value: object, size: int) -> np.ndarray:
    """A section with one row per node: exactly DIMENSION rows of the section's width."""
    array = _numbers(path, key, value)
    label = _label(key, value)
    rows = array.shape[0] if array.ndim else 0
    if rows != size:
        raise InstanceFileError(
            f"{path}: DIMENSION is {size} but {label} has {rows} rows (file cut short, or DIMENSION wrong?)"
        )
    width = PER_NODE[key]
    if width == 1 and array.ndim == 2:
        raise _unsupported(path, label, f"{array.shape[1]} values per node: multi-dimensional loads")
    if (width == 1 and array.ndim != 1) or (width > 1 and array.shape[1:] != (width,)):
        raise InstanceFileError(
            f"{path}: {label}: expected {width} value(s) per node after the index, got shape {array.shape[1:]}"
        )
    return array


def _build(path: Path, data: dict[str, Any], size: int | None) -> Instance:
    if size is None:  # Solomon: every section has one row per node
        size = len(data["node_coord"])
    nodes = {
        key: _per_node(path, key, data[key], size)
        for key in PER_NODE
        if key in data and isinstance(data[key], (list, np.ndarray))
    }
    distance = _distances(path, data, nodes)
    if distance.shape != (size, size):
        raise InstanceFileError(
            f"{path}: DIMENSION is {size} but EDGE_WEIGHT_SECTION gives a matrix of shape "
            f"{distance.shape} (file cut short, or DIMENSION wrong?)"
        )
    if str(data.get("edge_weight_type", "")).upper() == "EUC_2D":
        np.round(distance, out=distance)  # TSPLIB/CVRPLIB convention: nearest integer (in place: N can be 10^4)
    order = _depot_first(path, data, size)
    where = np.empty(size, dtype=np.int64)
    where[order] = np.arange(size)  # file node (0-based) -> nco node
    if order[0] != 0:
        distance = distance[np.ix_(order, order)]
    kwargs: dict[str, Any] = {"name": str(data.get("name", path.stem)), "distance": distance}
    for key, field in (
        ("demand", "demand"),
        ("linehaul", "demand"),
        ("backhaul", "pickup"),
        ("service_time", "service_time"),
        ("time_window", "time_windows"),
    ):
        if key in nodes:
            kwargs[field] = nodes[key][order]
    if "service_time" in data and "service_time" not in nodes:  # one service time for every client
        service = np.full(size, _scalar(path, "service_time", data["service_time"]))
        service[0] = 0.0
        kwargs["service_time"] = service
    coordinates = nodes.get("node_coord", nodes.get("display_data"))
    if coordinates is not None:
        kwargs["coordinates"] = coordinates[order]
    kwargs.update(_fleet(path, data, size, where))
    if "demand" in kwargs and not any(key in kwargs for key in ("capacity", "fleet")):
        raise InstanceFileError(f"{path}: DEMAND_SECTION given but no CAPACITY")
    instance = Instance(**kwargs)
    reference = _reference_cost(path.with_suffix(".sol"), instance)
    if reference is not None:
        # set on the new, unshared object instead of validating every (N, N) matrix again via replace()
        object.__setattr__(instance, "best_known_cost", reference)
    return instance


def solution_routes(path: Path, instance: Instance) -> tuple[list[list[int]], list[int] | None]:
    """Routes of a VRPLIB ``.sol`` and, for a mixed fleet, their vehicle types: from nco's
    ``Vehicle types:`` line, else the file numbers its routes by vehicle (``Route #k``, empty ones
    included, as in PyVRP's collection), vehicles listed type by type as read."""
    try:
        data = vrplib.read_solution(str(path))
        routes = [list(map(int, route)) for route in data["routes"]]
    except Exception as error:  # noqa: BLE001 - vrplib raises bare ValueError/IndexError on malformed files
        raise InstanceFileError(f"{path}: not a VRPLIB solution ({type(error).__name__}: {error})") from None
    counts = [vehicle.count for vehicle in instance.vehicle_types]
    if len(counts) == 1:
        return routes, None
    if "vehicle types" in data:  # written by nco: one type per route
        words = str(data["vehicle types"]).split()
        if not all(word.isdigit() for word in words) or len(words) != len(routes):
            raise InstanceFileError(f"{path}: 'Vehicle types' must be one type number per route ({len(routes)})")
        return routes, [int(word) for word in words]
    if len(routes) != sum(counts):
        raise InstanceFileError(
            f"{path}: {len(routes)} routes for {sum(counts)} vehicles of {len(counts)} types: "
            "a mixed fleet's solution lists one route per vehicle (empty ones included)"
        )
    return routes, np.repeat(np.arange(len(counts)), counts).tolist()


def _reference_cost(path: Path, instance: Instance) -> float | None:
    """The evaluator's cost of the routes in a ``.sol`` beside the instance, if they are feasible.
    The file's own cost line is not trusted: PyVRP's collection, for one, scales costs by 100."""
    if not path.is_file():
        return None
    try:
        routes, types = solution_routes(path, instance)
    except InstanceFileError:
        return None  # an unreadable .sol simply gives no reference
    result = evaluate(instance, routes, types)
    return result.cost if result.feasible else None


def _scalar(path: Path, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InstanceFileError(f"{path}: {key.upper()} {value!r}: expected a number")
    return float(value)


def _depot_first(path: Path, data: dict[str, Any], size: int) -> np.ndarray:
    depot = np.atleast_1d(data.get("depot", [0]))[0]
    if isinstance(depot, (float, np.floating)) and float(depot).is_integer():
        depot = int(depot)
    if not isinstance(depot, (int, np.integer)) or not 0 <= depot < size:
        shown = repr(depot) if isinstance(depot, str) else f"{float(depot) + 1:g}"
        raise InstanceFileError(f"{path}: DEPOT_SECTION: depot {shown} is not a node number 1..{size}")
    return np.array([depot, *(i for i in range(size) if i != depot)])


def _fleet(path: Path, data: dict[str, Any], size: int, where: np.ndarray) -> dict[str, Any]:
    """A homogeneous fleet (CAPACITY, VEHICLES, DISTANCE) or, when any vehicle attribute is given per
    vehicle, a heterogeneous one: identical vehicles are grouped into one VehicleType."""
    count = _integer(path, "vehicles", data["vehicles"], 1) if "vehicles" in data else None
    per_vehicle = {
        key: value for key, value in data.items() if key in PER_VEHICLE and isinstance(value, (list, np.ndarray))
    }
    limit = min(
        (
            _scalar(path, key, data[key])
            for key in ("distance", "vehicles_max_duration")
            if key in data and key not in per_vehicle
        ),
        default=math.inf,
    )
    if not math.isfinite(limit):
        limit = math.inf  # "DISTANCE: inf" or absent: no limit
    heterogeneous = per_vehicle or any(
        key in data for key in ("vehicles_fixed_cost", "vehicles_unit_distance_cost", "vehicles_allowed_clients")
    )
    if not heterogeneous:
        fleet: dict[str, Any] = {}
        if "capacity" in data:
            fleet["capacity"] = _scalar(path, "capacity", data["capacity"])
        if count is not None:
            fleet["num_vehicles"] = count
        if math.isfinite(limit):
            fleet["max_route_duration"] = limit  # travel time = distance in these files
        return fleet
    if count is None and not per_vehicle:
        count = size - 1  # as for a homogeneous fleet: one vehicle per customer
    if count is None:
        lengths = {len(value) for value in per_vehicle.values()}
        if len(lengths) != 1:
            raise InstanceFileError(f"{path}: no VEHICLES line, and the per-vehicle sections disagree on the count")
        count = lengths.pop()
    columns: dict[str, np.ndarray] = {}
    for key, attr in PER_VEHICLE.items():
        if key in per_vehicle:
            column = _numbers(path, key, per_vehicle[key])
            if column.shape != (count,):
                raise InstanceFileError(
                    f"{path}: VEHICLES is {count} but {_label(key, per_vehicle[key])} has "
                    f"{column.shape[0] if column.ndim else 0} rows (one value per vehicle expected)"
                )
            columns[attr] = column
        elif key in data:
            columns[attr] = np.full(count, _scalar(path, key, data[key]))
    columns["max_duration"] = np.minimum(columns.get("max_duration", np.full(count, math.inf)), limit)
    allowed = _allowed(path, data.get("vehicles_allowed_clients"), count, size, where)
    attrs = sorted(columns)
    signatures = [(*(float(columns[attr][v]) for attr in attrs), allowed[v].tobytes()) for v in range(count)]
    kinds = list(dict.fromkeys(signatures))  # distinct vehicles, in order of first appearance
    counts = [signatures.count(kind) for kind in kinds]
    members = [signatures.index(kind) for kind in kinds]
    values: list[dict[str, Any]] = [{attr: float(columns[attr][v]) for attr in attrs} for v in members]
    fleet_types = tuple(VehicleType(count, **value) for count, value in zip(counts, values, strict=True))
    result: dict[str, Any] = {"fleet": fleet_types}
    if "vehicles_allowed_clients" in data:
        result["allowed"] = allowed[members]
    return result


def _allowed(path: Path, value: Iterable[object] | None, count: int, size: int, where: np.ndarray) -> np.ndarray:
    """(vehicles, nodes) bool from VEHICLES_ALLOWED_CLIENTS_SECTION (1-based client numbers per vehicle)."""
    allowed = np.ones((count, size), dtype=bool)
    if value is None:
        return allowed
    rows = list(value)
    if len(rows) != count:
        raise InstanceFileError(
            f"{path}: VEHICLES is {count} but VEHICLES_ALLOWED_CLIENTS_SECTION has {len(rows)} rows"
        )
    allowed[:, 1:] = False
    for v, row in enumerate(rows):
        clients = np.atleast_1d(np.asarray(row, dtype=object))
        ok = [isinstance(c, (int, np.integer)) and 1 <= c <= size for c in clients]
        if not all(ok):
            bad = clients[ok.index(False)]
            raise InstanceFileError(
                f"{path}: VEHICLES_ALLOWED_CLIENTS_SECTION row {v + 1}: {bad!r} is not a node number 1..{size}"
            )
        allowed[v, where[clients.astype(np.int64) - 1]] = True
    allowed[:, 0] = True
    return allowed

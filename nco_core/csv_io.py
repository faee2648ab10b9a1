"""Stops and fleet as plain CSV files (a header row, then one row per stop or vehicle).

Stops (``stops.csv``): ``id, lat, lon`` required; optional ``demand, pickup, tw_start, tw_end,
service, skills, prize`` (a stop with a prize is optional: leaving it out costs the prize). Fleet
(``fleet.csv``): ``id, start_lat, start_lon`` required; optional ``end_lat, end_lon`` (absent
columns: back to the start; empty cells: an open route ending at its last stop), ``capacity``
(empty: unlimited), ``shift_start, shift_end, skills, fixed_cost, per_hour, per_km, max_tasks,
max_distance``. Without a fleet file the first stop row is the depot, where as many uncapacitated
vehicles as there are stops start and end.

Times are seconds (``3600``) or clock times (``08:30``, ``08:30:15``, = seconds since midnight);
distances are metres; ``skills`` are words separated by spaces or ``;``. Ids are kept as the text
they are. Every error names the file, the line, the column and the row's id.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from nco_core.instance import InstanceFileError
from nco_core.stops import Job, Problem, StopsError, Vehicle

__all__ = ["parse_time", "read_stops_csv"]

STOP_COLUMNS = ("id", "lat", "lon", "demand", "pickup", "tw_start", "tw_end", "service", "skills", "prize")
FLEET_COLUMNS = (
    "id",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "capacity",
    "shift_start",
    "shift_end",
    "skills",
    "fixed_cost",
    "per_hour",
    "per_km",
    "max_tasks",
    "max_distance",
)


def parse_time(text: str) -> float:
    """Seconds from ``"5400"``, ``"01:30"`` or ``"01:30:00"``; ValueError otherwise."""
    parts = text.strip().split(":")
    if len(parts) == 1:
        try:
            value = float(parts[0])
        except ValueError:
            raise ValueError(f"{text!r} is neither seconds nor HH:MM[:SS]") from None
    elif len(parts) in (2, 3) and all(part.isdigit() for part in parts):
        h, m, sec = (*map(int, parts), 0)[:3]
        if m >= 60 or sec >= 60:
            raise ValueError(f"{text!r} is not a clock time (minutes and seconds below 60)")
        value = h * 3600.0 + m * 60 + sec
    else:
        raise ValueError(f"{text!r} is neither seconds nor HH:MM[:SS]")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{text!r} is not a non-negative time")
    return value


class _Rows:
    """The rows of one CSV file, with typed cell access whose errors say where."""

    def __init__(self, path: Path, required: tuple[str, ...], known: tuple[str, ...]) -> None:
        self.path = path
        if not path.is_file():
            raise InstanceFileError(f"{path}: no such file")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            self.rows = list(reader)
        missing = [name for name in required if name not in header]
        if missing:
            raise InstanceFileError(f"{path}: no column {missing[0]!r} (header: {', '.join(header) or 'empty'})")
        unknown = [name for name in header if name not in known]
        if unknown:
            raise InstanceFileError(f"{path}: unknown column {unknown[0]!r} (known: {', '.join(known)})")
        if not self.rows:
            raise InstanceFileError(f"{path}: no rows after the header")
        for r, row in enumerate(self.rows):
            if not (row.get("id") or "").strip():
                raise InstanceFileError(f"{path}: line {r + 2}, column 'id': missing")
        self.columns = set(header)

    def where(self, r: int, column: str) -> str:
        ident = (self.rows[r].get("id") or "").strip()
        return f"{self.path}: line {r + 2}, column {column!r} (id {ident!r})"

    def text(self, r: int, column: str) -> str:
        value = self.rows[r].get(column)
        if value is None and column in self.columns:  # a short row
            raise InstanceFileError(f"{self.where(r, column)}: the row has too few cells")
        return (value or "").strip()

    def number(
        self, r: int, column: str, default: float | None = None, *, kind: Any = float, signed: bool = False
    ) -> Any:
        text = self.text(r, column)
        if not text:
            if default is None:
                raise InstanceFileError(f"{self.where(r, column)}: missing")
            return default
        try:
            value = kind(text) if kind is not parse_time else parse_time(text)
        except ValueError as error:
            raise InstanceFileError(f"{self.where(r, column)}: {error}") from None
        if not math.isfinite(value) or (value < 0 and not signed):
            raise InstanceFileError(
                f"{self.where(r, column)}: {text!r} is not a finite{'' if signed else ', non-negative'} number"
            )
        return value

    def optional(self, r: int, column: str, default: float, kind: Any = float) -> Any:
        """A column that files may leave out: ``default`` when absent or empty."""
        return self.number(r, column, default, kind=kind) if column in self.columns else default

    def skills(self, r: int) -> frozenset[str]:
        return frozenset(self.text(r, "skills").replace(";", " ").split()) if "skills" in self.columns else frozenset()


def read_stops_csv(stops: str | os.PathLike[str], fleet: str | os.PathLike[str] | None = None) -> Problem:
    """The :class:`Problem` of a stops CSV and, optionally, a fleet CSV."""
    stops_rows = _Rows(Path(stops), ("id", "lat", "lon"), STOP_COLUMNS)
    places: dict[tuple[float, float], int] = {}

    def place(rows: _Rows, r: int, lat_key: str, lon_key: str) -> int:
        where = (rows.number(r, lat_key, signed=True), rows.number(r, lon_key, signed=True))
        return places.setdefault(where, len(places))

    jobs = []
    first = 0 if fleet is not None else 1
    for r in range(first, len(stops_rows.rows)):
        window = None
        start, end = stops_rows.text(r, "tw_start"), stops_rows.text(r, "tw_end")
        if start or end:
            window = (
                stops_rows.number(r, "tw_start", 0.0, kind=parse_time),
                stops_rows.number(r, "tw_end", math.inf, kind=parse_time),
            )
            if not math.isfinite(window[1]):
                raise InstanceFileError(f"{stops_rows.where(r, 'tw_end')}: missing (tw_start is given)")
        jobs.append(
            Job(
                stops_rows.text(r, "id"),
                place(stops_rows, r, "lat", "lon"),
                stops_rows.optional(r, "demand", 0.0),
                stops_rows.optional(r, "pickup", 0.0),
                stops_rows.optional(r, "service", 0.0, parse_time),
                window,
                stops_rows.skills(r),
                prize=stops_rows.number(r, "prize")
                if "prize" in stops_rows.columns and stops_rows.text(r, "prize")
                else None,
            )
        )
    if fleet is None:
        depot = place(stops_rows, 0, "lat", "lon")
        for column in ("demand", "pickup", "tw_start", "tw_end", "service"):
            if column in stops_rows.columns and stops_rows.text(0, column) not in ("", "0"):
                raise InstanceFileError(
                    f"{stops_rows.where(0, column)}: the first row is the depot (no fleet file "
                    "was given), which has no demand, pickup, time window or service"
                )
        vehicles = tuple(Vehicle(f"vehicle-{v + 1}", depot, depot) for v in range(len(jobs)))
    else:
        vehicles = _fleet(_Rows(Path(fleet), ("id", "start_lat", "start_lon"), FLEET_COLUMNS), place)
    coordinates = np.array(list(places), dtype=float)
    name = Path(stops).stem
    try:
        return Problem(tuple(jobs), vehicles, coordinates, None, "csv", name)
    except StopsError as error:
        raise InstanceFileError(f"{stops}: {error}") from None


def _fleet(rows: _Rows, place: Any) -> tuple[Vehicle, ...]:
    vehicles = []
    for r in range(len(rows.rows)):
        start = place(rows, r, "start_lat", "start_lon")
        if "end_lat" not in rows.columns and "end_lon" not in rows.columns:
            end: int | None = start
        elif not rows.text(r, "end_lat") and not rows.text(r, "end_lon"):
            end = None
        else:
            end = place(rows, r, "end_lat", "end_lon")
        shift = None
        if "shift_start" in rows.columns and (rows.text(r, "shift_start") or rows.text(r, "shift_end")):
            shift = (
                rows.optional(r, "shift_start", 0.0, parse_time),
                rows.optional(r, "shift_end", math.inf, parse_time),
            )
            if not math.isfinite(shift[1]):
                raise InstanceFileError(f"{rows.where(r, 'shift_end')}: missing (shift_start is given)")
        tasks = rows.text(r, "max_tasks") if "max_tasks" in rows.columns else ""
        vehicles.append(
            Vehicle(
                rows.text(r, "id"),
                start,
                end,
                rows.optional(r, "capacity", math.inf),
                rows.skills(r),
                shift,
                rows.optional(r, "fixed_cost", 0.0),
                rows.optional(r, "per_hour", 3600.0),
                rows.optional(r, "per_km", 0.0),
                max_tasks=rows.number(r, "max_tasks", kind=int) if tasks else None,
                max_distance=rows.optional(r, "max_distance", math.inf),
            )
        )
    return tuple(vehicles)

"""``OUT/results.csv`` and ``OUT/solutions/``: what a batch has finished, kept safe across crashes.

Each finished task appends exactly one physical line to ``results.csv`` with one ``os.write`` on an
``O_APPEND`` descriptor (text fields lose their newlines first), so Ctrl-C lands before or after a
row, never inside it; a line torn by a hard crash (no trailing newline) is cut off on the next
open. The solution file is written atomically *before* its row, so a row always has its file.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from nco.batch.tasks import solution_stem
from nco_core.io import write
from nco_core.solution import Solution

__all__ = ["COLUMNS", "ResultStore"]

COLUMNS = [
    "instance", "method", "budget", "seed", "status", "cost", "feasible", "gap", "best_known",
    "runtime", "wall_time", "neural_time", "worker", "pid", "started", "finished", "error", "violations",
]  # fmt: skip
_FLOATS = ("budget", "cost", "gap", "best_known", "runtime", "wall_time", "neural_time", "started", "finished")
_INTS = ("seed", "pid")


class ResultStore:
    """The append-only results file of one ``--out`` directory; use as a context manager."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "results.csv"
        self.solutions = self.directory / "solutions"
        self.solutions.mkdir(parents=True, exist_ok=True)
        self._repair()
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._write_line(COLUMNS)
        else:
            with self.path.open(newline="") as handle:
                header = next(csv.reader(handle), [])
            if header != COLUMNS:
                raise ValueError(f"{self.path}: not an nco results file (header {header[:4]}...); use another --out")
        self._fd: int | None = None
        self.appended = 0  # rows this object wrote

    def __enter__(self) -> ResultStore:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def rows(self) -> list[dict[str, Any]]:
        """Every row, typed (floats, ints, booleans; empty numbers are NaN, except cost: inf)."""
        with self.path.open(newline="") as handle:
            return [_typed(row) for row in csv.DictReader(handle)]

    def latest(self) -> dict[tuple[str, str, float], dict[str, Any]]:
        """The last row of each (instance, method, budget): a retried task's newest attempt."""
        return {(row["instance"], row["method"], row["budget"]): row for row in self.rows()}

    def solution_path(self, key: tuple[str, str, float]) -> Path:
        return self.solutions / f"{solution_stem(key)}.json"

    def append(self, row: dict[str, Any], solution: Solution | None) -> None:
        if solution is not None:
            write(solution, self.solution_path((row["instance"], row["method"], row["budget"])))
        line = [_text(row.get(column)) for column in COLUMNS]
        if self._fd is None:
            raise RuntimeError("ResultStore.append() outside its `with` block")
        os.write(self._fd, _csv_line(line))
        self.appended += 1

    def _write_line(self, fields: list[str]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, _csv_line(fields))
        finally:
            os.close(fd)

    def _repair(self) -> None:
        """Cut a last line that a crash left without its newline (that task simply runs again)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)


def _csv_line(fields: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue().encode()


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)  # round-trips exactly: budgets are keys
    return " ".join(str(value).split("\n"))


def _typed(row: dict[str, str]) -> dict[str, Any]:
    typed: dict[str, Any] = dict(row)
    for column in _FLOATS:
        typed[column] = float(row[column]) if row[column] else (math.inf if column == "cost" else math.nan)
    for column in _INTS:
        typed[column] = int(row[column]) if row[column] else None
    typed["feasible"] = row["feasible"] == "True"
    typed["best_known"] = None if math.isnan(typed["best_known"]) else typed["best_known"]
    return typed

"""Fuzzing the readers: a damaged file is read as a valid instance or refused with nco's own error.

Random mutations of valid VRPLIB and JSON files (a line deleted, duplicated or replaced, a token
altered, the file truncated) must either give a valid Instance — which then survives a JSON
write-read round trip unchanged and can be evaluated — or raise InstanceFileError or
UnsupportedFeature. Anything else (IndexError, TypeError, a bare ValueError) is a reader bug.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nco
from nco import Instance, InstanceFileError, VehicleType
from nco_core.errors import UnsupportedFeature
from nco_core.json_io import instance_to_json

TOKENS = [
    "",
    "x",
    "-1",
    "0",
    "1",
    "2",
    "1.5",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "999999",
    "true",
    "null",
    '"s"',
    "[]",
    "{}",
    "[",
    "]",
    ",",
    ":",
    "EOF",
    "DEMAND_SECTION",
    "NAME: y",
    '"open_routes": "false"',
]


def _vrplib_seeds() -> list[str]:
    coords = "\n".join(f"{i + 1} {3 * i} {i * i % 7}" for i in range(5))
    demand = "\n".join(f"{i + 1} {0 if i == 0 else i}" for i in range(5))
    cvrp = (
        f"NAME: small\nTYPE: CVRP\nDIMENSION: 5\nCAPACITY: 6\nEDGE_WEIGHT_TYPE: EUC_2D\n"
        f"NODE_COORD_SECTION\n{coords}\nDEMAND_SECTION\n{demand}\nDEPOT_SECTION\n1\n-1\nEOF\n"
    )
    rows = lambda values: "\n".join(f"{k + 1} {v}" for k, v in enumerate(values))  # noqa: E731
    fleet = (
        f"NAME: mix\nTYPE: HFVRP\nDIMENSION: 5\nVEHICLES: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
        f"{coords}\nDEMAND_SECTION\n{demand}\nCAPACITY_SECTION\n{rows([4, 4, 9])}\n"
        f"VEHICLES_FIXED_COST_SECTION\n{rows([10, 10, 30])}\nDEPOT_SECTION\n1\n-1\nEOF\n"
    )
    windows = Instance(
        distance=np.array([[0, 4, 5, 6], [4, 0, 2, 3.5], [5, 2.5, 0, 1], [6, 3, 1, 0]]),
        demand=[0, 1, 2, 1],
        capacity=3,
        num_vehicles=2,
        time_windows=[[0, 100], [0, 50], [10, 60], [0, 80]],
        service_time=[0, 1, 2, 3],
        name="windows",
    )
    with tempfile.TemporaryDirectory() as folder:
        explicit = nco.write(windows, Path(folder) / "windows.vrp").read_text()
    customers = "\n".join(
        f"{i} {10 + 3 * i} {20 - 2 * i} {min(i, 1) * 3} {5 * i} {200 - i} {min(i, 1) * 10}" for i in range(5)
    )
    solomon = (
        "R0\n\nVEHICLE\nNUMBER     CAPACITY\n  3         10\n\nCUSTOMER\n"
        "CUST NO.   XCOORD.   YCOORD.    DEMAND   READY TIME   DUE DATE   SERVICE TIME\n\n" + customers + "\n"
    )
    return [cvrp, fleet, explicit, solomon]


def _json_seeds() -> list[str]:
    distance = np.array([[0, 1, 2, np.inf], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]])
    rich = Instance(
        distance=np.stack([distance, 2 * distance]),
        coordinates=[[0, 0], [1, 0], [2, 0], [3, 0]],
        demand=[0, 1, 2, 1],
        pickup=[0, 0, 1, 0],
        fleet=(VehicleType(2, capacity=4, fixed_cost=3.5), VehicleType(1, capacity=5, profile=1, max_duration=90)),
        time_windows=[[0, 500], [0, 100], [10, 200], [0, 300]],
        service_time=[0, 1, 2, 3],
        open_routes=True,
        allowed=[[True, True, True, False], [True] * 4],
        preference=[[0, 0.5, 0, 0], [0, 0, 0, 1.25]],
        name="rich",
    )
    plain = Instance(distance=distance[:3, :3], demand=[0, 1, 1], capacity=2, max_route_duration=10)
    return [json.dumps(instance_to_json(instance), indent=1) for instance in (rich, plain)]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 3))):
        lines = text.splitlines()
        action = draw(st.sampled_from(["delete", "duplicate", "replace", "token", "truncate"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if action == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
            continue
        if not lines:
            continue
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "replace":
            lines[i] = draw(st.sampled_from(TOKENS))
        else:
            tokens = lines[i].split(" ")
            k = draw(st.integers(0, len(tokens) - 1))
            tokens[k] = draw(st.sampled_from(TOKENS))
            lines[i] = " ".join(tokens)
        text = "\n".join(lines) + "\n"
    return text


def _same(a: Instance, b: Instance) -> bool:
    for item in fields(Instance):
        if not item.init:
            continue
        x, y = getattr(a, item.name), getattr(b, item.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (
                isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)
            ):
                return False
        elif x != y or type(x) is not type(y):
            return False
    return True


def _vrplib_round_trip(instance: Instance, path: Path) -> None:
    """What VRPLIB expresses survives nco's own VRPLIB writer too (where it can write the instance)."""
    try:
        nco.write(instance, path)
    except ValueError as error:
        assert "VRPLIB cannot express" in str(error)
        return
    again = nco.read(path)
    assert again.vehicle_types == instance.vehicle_types
    for name in ("distance", "demand", "pickup", "time_windows", "service_time", "coordinates"):
        a, b = getattr(instance, name), getattr(again, name)
        assert (a is None and b is None) or np.array_equal(a, b), name


def _check(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_text(text)
        try:
            instance = nco.read(path)
        except (InstanceFileError, UnsupportedFeature):
            return  # refused with nco's own error: fine
        again = nco.read(nco.write(instance, Path(folder) / "again.json"))
        assert _same(instance, again), f"round trip changed the instance read from:\n{text}"
        if suffix == ".vrp":
            _vrplib_round_trip(instance, Path(folder) / "again.vrp")
        singles = [[i] for i in range(1, instance.num_nodes)]
        result = nco.evaluate(instance, singles, [0] * len(singles))  # a valid instance can be scored
        assert result.num_routes == len(singles)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated(_vrplib_seeds()))
def test_mutated_vrplib_files_parse_or_raise_nco_errors(text: str) -> None:
    _check(text, ".vrp")


@FUZZ
@given(mutated(_json_seeds()))
def test_mutated_json_files_parse_or_raise_nco_errors(text: str) -> None:
    _check(text, ".json")


def test_the_seeds_themselves_are_valid() -> None:
    """Guards the fuzz test against seeds that are refused anyway (which would test nothing)."""
    for seeds, suffix in ((_vrplib_seeds(), ".vrp"), (_json_seeds(), ".json")):
        for text in seeds:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"seed{suffix}"
                path.write_text(text)
                assert nco.read(path).num_nodes >= 3

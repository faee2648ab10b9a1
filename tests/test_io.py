"""Files in and out: lossless JSON, VRPLIB round trips, clear errors naming the file, atomic writes."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import nco
from nco import Instance, InstanceFileError, VehicleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def rich_instance() -> Instance:
    rng = np.random.default_rng(3)
    distance = rng.uniform(1, 10, size=(2, 5, 5))
    distance[:, np.arange(5), np.arange(5)] = 0
    distance[0, 1, 2] = np.inf
    return Instance(
        distance=distance,
        duration=distance * 1.5,
        coordinates=rng.uniform(size=(5, 2)),
        coordinate_system="latlon",
        demand=[0, 1, 2, 0, 1],
        pickup=[0, 0, 0, 2, 0],
        fleet=(VehicleType(2, capacity=4, fixed_cost=3.5), VehicleType(1, capacity=5, profile=1, max_duration=90)),
        time_windows=[[0, 500], [0, 100], [10, 200], [0, 300], [5, 50]],
        service_time=[0, 1, 2, 3, 4],
        open_routes=True,
        backhaul_mode="strict",
        allowed=[[True, True, True, False, True], [True] * 5],
        preference=[[0, 0.5, 0, 0, 0], [0, 0, 0, 1.25, 0]],
        name="rich",
        best_known_cost=12.5,
    )


def test_json_round_trip_is_lossless(tmp_path: Path) -> None:
    original = rich_instance()
    path = nco.write(original, tmp_path / "rich.json")
    loaded = nco.read(path)
    for name in ("distance", "duration", "coordinates", "demand", "pickup", "time_windows", "service_time",
                 "allowed", "preference"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    for name in ("fleet", "open_routes", "backhaul_mode", "coordinate_system", "name", "best_known_cost"):
        assert getattr(loaded, name) == getattr(original, name)


@pytest.mark.skipif(not (BENCHMARKS / "solomon").is_dir(), reason=f"Solomon instances not found under {BENCHMARKS}")
def test_solomon_and_vrplib_round_trip(tmp_path: Path) -> None:
    solomon = nco.read(BENCHMARKS / "solomon" / "R101.txt")
    assert solomon.num_customers == 100 and solomon.time_windows is not None
    assert solomon.vehicle_types[0].count == 25 and solomon.vehicle_types[0].capacity == 200
    again = nco.read(nco.write(solomon, tmp_path / "r101.vrp"))
    np.testing.assert_allclose(again.distance, solomon.distance)
    np.testing.assert_array_equal(again.time_windows, solomon.time_windows)
    np.testing.assert_array_equal(again.service_time, solomon.service_time)


def test_vrplib_refuses_what_it_cannot_express(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="write 'rich' as .json"):
        nco.write(rich_instance(), tmp_path / "rich.vrp")
    assert not list(tmp_path.iterdir()), "a refused write must leave nothing behind"


def test_solution_files_round_trip(tmp_path: Path) -> None:
    instance = Instance(distance=np.ones((4, 4)) - np.eye(4), demand=[0, 1, 1, 1], capacity=2)
    solution = nco.Solution.of(instance, [[1, 2], [3]], method="hand")
    for suffix in (".sol", ".json"):
        loaded = nco.read_solution(nco.write(solution, tmp_path / f"s{suffix}"), instance)
        assert loaded.routes == solution.routes and loaded.cost == solution.cost and loaded.feasible


def test_malformed_files_name_the_file_and_the_problem(tmp_path: Path) -> None:
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"format": "nco-instance",\n "version": 1,\n "distance": [[0, 1], [1, 0]],,}')
    with pytest.raises(InstanceFileError, match=r"broken.json: line 3, column 31"):
        nco.read(broken_json)
    bad_value = tmp_path / "bad.json"
    bad_value.write_text(json.dumps({"format": "nco-instance", "version": 1, "distance": [[0, 1], [1, 0]],
                                     "demand": [0, -4], "capacity": 5}))
    with pytest.raises(InstanceFileError, match=r"bad.json: instance 'instance': demand\[1\] = -4.0 is negative"):
        nco.read(bad_value)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"format": "nco-instance", "version": 1, "distance": [[0, 1], [1, 0]], "colour": 1}))
    with pytest.raises(InstanceFileError, match=r"unknown.json: unknown field\(s\) \['colour'\]"):
        nco.read(unknown)
    garbage = tmp_path / "garbage.vrp"
    garbage.write_text("NAME: g\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 x 1\n3 2 2\nEOF\n")
    with pytest.raises(InstanceFileError, match=r"garbage.vrp: cannot parse as vrplib"):
        nco.read(garbage)
    with pytest.raises(InstanceFileError, match=r"missing.vrp: no such file"):
        nco.read(tmp_path / "missing.vrp")


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.json"
    nco.write(rich_instance(), target)
    before = target.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        nco.write(rich_instance().replace(name="other"), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]

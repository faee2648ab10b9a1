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
    for name in (
        "distance",
        "duration",
        "coordinates",
        "demand",
        "pickup",
        "time_windows",
        "service_time",
        "allowed",
        "preference",
    ):
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
    bad_value.write_text(
        json.dumps(
            {"format": "nco-instance", "version": 1, "distance": [[0, 1], [1, 0]], "demand": [0, -4], "capacity": 5}
        )
    )
    with pytest.raises(
        InstanceFileError, match=r"bad.json: field demand\[1\]: Input should be greater than or equal to 0 \(got -4\)"
    ):
        nco.read(bad_value)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"format": "nco-instance", "version": 1, "distance": [[0, 1], [1, 0]], "colour": 1}))
    with pytest.raises(InstanceFileError, match=r"unknown.json: unknown field\(s\) \['colour'\]"):
        nco.read(unknown)
    garbage = tmp_path / "garbage.vrp"
    garbage.write_text(
        "NAME: g\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 x 1\n3 2 2\nEOF\n"
    )
    with pytest.raises(
        InstanceFileError,
        match=r"garbage.vrp: NODE_COORD_SECTION: expected rows of numbers, "
        r"but data row 2 holds 'x'",
    ):
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


# -- VRPLIB: DIMENSION, memory, and every section read or refused ------------------------------
def vrplib_text(*, dimension: int = 5, extra_specs: str = "", sections: str = "") -> str:
    """A small CVRP (depot 1 at the origin) in VRPLIB; ``sections`` go before DEPOT_SECTION."""
    coords = "\n".join(f"{i + 1} {3 * i} {i * i % 7}" for i in range(5))
    demand = "\n".join(f"{i + 1} {0 if i == 0 else i}" for i in range(5))
    return (
        f"NAME: small\nTYPE: CVRP\nDIMENSION: {dimension}\nCAPACITY: 6\n{extra_specs}EDGE_WEIGHT_TYPE: EUC_2D\n"
        f"NODE_COORD_SECTION\n{coords}\nDEMAND_SECTION\n{demand}\n{sections}DEPOT_SECTION\n1\n-1\nEOF\n"
    )


def test_vrplib_reads_the_small_file(tmp_path: Path) -> None:
    path = tmp_path / "small.vrp"
    path.write_text(vrplib_text())
    instance = nco.read(path)
    assert instance.num_nodes == 5 and instance.capacity == 6
    np.testing.assert_array_equal(instance.demand, [0, 1, 2, 3, 4])


@pytest.mark.parametrize("keep, section, found", [(9, "NODE_COORD_SECTION", 3), (14, "DEMAND_SECTION", 2)])
def test_vrplib_cut_at_a_line_boundary_names_the_section_and_counts(
    tmp_path: Path, keep: int, section: str, found: int
) -> None:
    path = tmp_path / "cut.vrp"
    path.write_text("\n".join(vrplib_text().splitlines()[:keep]) + "\n")
    with pytest.raises(InstanceFileError, match=rf"cut.vrp: DIMENSION is 5 but {section} has {found} rows"):
        nco.read(path)


def test_vrplib_dimension_larger_than_the_body_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "short.vrp"
    path.write_text(vrplib_text(dimension=6))
    with pytest.raises(InstanceFileError, match=r"short.vrp: DIMENSION is 6 but NODE_COORD_SECTION has 5 rows"):
        nco.read(path)
    for bad in ("x", "1", "-3", "2.5"):
        path.write_text(vrplib_text().replace("DIMENSION: 5", f"DIMENSION: {bad}"))
        with pytest.raises(InstanceFileError, match=r"short.vrp: DIMENSION .*expected an integer >= 2"):
            nco.read(path)


def test_absurd_dimension_is_refused_before_allocating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    path = tmp_path / "huge.vrp"
    path.write_text(vrplib_text(dimension=10_000_000))
    tracemalloc.start()
    try:
        with pytest.raises(
            InstanceFileError,
            match=r"huge.vrp: DIMENSION 10000000 .* needs an estimated 3.2e\+06 GB, "
            r"over the limit of [0-9.]+ GB \(raise it with",
        ):
            nco.read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5e6, f"{peak / 1e6:.1f} MB allocated before refusing"
    small = tmp_path / "small.vrp"
    small.write_text(vrplib_text())
    with pytest.raises(InstanceFileError, match=r"small.vrp: DIMENSION 5 .* over the limit of 1e-07 GB"):
        nco.read(small, max_memory=100)  # the limit is the caller's to set
    monkeypatch.setenv("NCO_MAX_MEMORY_GB", "1e-7")
    with pytest.raises(InstanceFileError, match=r"over the limit of 1e-07 GB"):
        nco.read(small)
    assert nco.read(small, max_memory=10**6).num_nodes == 5


def test_vrplib_numbers_that_are_not_numbers_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "typed.vrp"
    for old, new, message in [
        ("CAPACITY: 6", "CAPACITY: ten", r"CAPACITY 'ten': expected a number"),
        ("CAPACITY: 6\n", "CAPACITY: 6\nVEHICLES: 1.5\n", r"VEHICLES 1.5: expected an integer >= 1"),
        ("3 2\n", "3 two\n", r"DEMAND_SECTION: expected rows of numbers, but data row 3 holds 'two'"),
        (
            "4 9 2\n",
            "4 9\n",
            r"NODE_COORD_SECTION: expected rows of numbers, but data row 4 has 1 value\(s\) and "
            r"row 1 has 2",
        ),
        ("NAME: small\n", "NAME: small\nDISPLAY_DATA_TYPE: NO_DISPLAY\nTYPE: X\n", None),
        ("DEPOT_SECTION\n1\n", "DEPOT_SECTION\n9\n", r"DEPOT_SECTION: depot 9 is not a node number 1..5"),
    ]:
        text = vrplib_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
        if message is None:  # descriptive keys carry nothing to model
            assert nco.read(path).num_nodes == 5
            continue
        with pytest.raises(InstanceFileError, match=rf"typed.vrp: {message}"):
            nco.read(path)


def hfvrp_text() -> str:
    """PyVRP's fleet-size-and-mix dialect: one row per vehicle in the vehicle sections."""
    rows = lambda values: "\n".join(f"{k + 1} {v}" for k, v in enumerate(values))  # noqa: E731
    return (
        vrplib_text(
            extra_specs="VEHICLES: 5\n",
            sections=f"VEHICLES_FIXED_COST_SECTION\n{rows([10, 10, 10, 40, 40])}\n"
            f"VEHICLES_UNIT_DISTANCE_COST_SECTION\n{rows([1, 1, 1, 2, 2])}\n",
        )
        .replace("CAPACITY: 6\n", "")
        .replace("DEMAND_SECTION", f"CAPACITY_SECTION\n{rows([4, 4, 4, 9, 9])}\nDEMAND_SECTION")
    )


def test_vrplib_heterogeneous_fleet_with_fixed_costs_is_read_into_the_fleet(tmp_path: Path) -> None:
    path = tmp_path / "X6-FSMF.vrp"
    path.write_text(hfvrp_text())
    instance = nco.read(path)
    assert instance.fleet == (
        VehicleType(3, capacity=4, fixed_cost=10, unit_distance_cost=1),
        VehicleType(2, capacity=9, fixed_cost=40, unit_distance_cost=2),
    )
    # a .sol numbers its routes by vehicle: vehicle 4 is the first of type 1
    path.with_suffix(".sol").write_text("Route #1: 1\nRoute #2: 2\nRoute #3:\nRoute #4: 3 4\nRoute #5:\nCost: 1\n")
    solution = nco.read_solution(path.with_suffix(".sol"), instance)
    assert solution.vehicle_types == [0, 0, 1] and solution.feasible
    # the reference is the evaluator's cost of those routes, never the file's own "Cost: 1"
    assert nco.read(path).best_known_cost == pytest.approx(solution.cost) and solution.cost > 100
    again = nco.read_solution(nco.write(solution, tmp_path / "written.sol"), instance)  # nco's own .sol
    assert again.routes == solution.routes and again.vehicle_types == [0, 0, 1] and again.cost == solution.cost


def test_vrplib_mixed_fleets_round_trip_in_pyvrps_dialect(tmp_path: Path) -> None:
    distance = np.arange(16.0).reshape(4, 4) % 5 + 1 - np.eye(4)
    original = Instance(
        distance=distance,
        demand=[0, 2, 3, 4],
        time_windows=[[0, 99]] * 4,
        fleet=(
            VehicleType(2, capacity=5, fixed_cost=7.5, unit_distance_cost=2),
            VehicleType(1, capacity=9, max_duration=50),
        ),
        allowed=[[True, True, False, True], [True, True, True, True]],
    )
    again = nco.read(nco.write(original, tmp_path / "mixed.vrp"))
    assert again.fleet == original.fleet
    for name in ("distance", "demand", "time_windows", "allowed"):
        np.testing.assert_array_equal(getattr(again, name), getattr(original, name))


def test_vrplib_vehicle_client_restrictions_become_allowed(tmp_path: Path) -> None:
    path = tmp_path / "site.vrp"
    path.write_text(
        vrplib_text(
            extra_specs="VEHICLES: 2\nVEHICLES_MAX_DURATION: 500\n",
            sections="VEHICLES_ALLOWED_CLIENTS_SECTION\n1 2 3 4 5\n2 4 5\n",
        )
    )
    instance = nco.read(path)
    assert [v.count for v in instance.vehicle_types] == [1, 1]
    assert all(v.max_duration == 500 for v in instance.vehicle_types)
    np.testing.assert_array_equal(instance.allowed, [[True] * 5, [True, False, False, True, True]])


def test_vrplib_one_service_time_for_every_client(tmp_path: Path) -> None:
    path = tmp_path / "service.vrp"
    path.write_text(vrplib_text(extra_specs="SERVICE_TIME: 90\n"))
    np.testing.assert_array_equal(nco.read(path).service_time, [0, 90, 90, 90, 90])


@pytest.mark.parametrize(
    "section, body, what",
    [
        ("PRIZE_SECTION", "1 0\n2 5\n3 5\n4 5\n5 5", "prize-collecting"),  # PCVRPTW
        ("RELEASE_TIME_SECTION", "1 0\n2 0\n3 10\n4 0\n5 3", "release times"),  # MTVRPTWR
        ("VEHICLES_RELOAD_DEPOT_SECTION", "1 1", "multi-trip"),
        ("MUTUALLY_EXCLUSIVE_GROUP_SECTION", "1 2 3\n2 4 5", "generalised VRP"),  # GVRP
        ("COLOUR_SECTION", "1 1\n2 1\n3 1\n4 1\n5 1", "not part of nco's problem model"),
    ],
)
def test_vrplib_sections_nco_cannot_model_are_refused_by_name(
    tmp_path: Path, section: str, body: str, what: str
) -> None:
    from nco_core.errors import UnsupportedFeature

    path = tmp_path / "variant.vrp"
    path.write_text(vrplib_text(sections=f"{section}\n{body}\n"))
    with pytest.raises(UnsupportedFeature, match=rf"{section} in .*variant.vrp \(.*{what}"):
        nco.read(path)
    path.write_text(vrplib_text().replace("DEPOT_SECTION\n1\n", "DEPOT_SECTION\n1\n2\n"))
    with pytest.raises(UnsupportedFeature, match=r"DEPOT_SECTION in .* \(2 depots"):
        nco.read(path)
    path.write_text(vrplib_text().replace("EUC_2D", "GEO"))
    with pytest.raises(UnsupportedFeature, match=r"EDGE_WEIGHT_TYPE GEO"):
        nco.read(path)


def test_vrplib_write_refuses_what_it_would_lose(tmp_path: Path) -> None:
    distance = np.ones((3, 3)) - np.eye(3)
    for instance in (
        Instance(distance=distance, duration=2 * distance),
        Instance(distance=distance, fleet=(VehicleType(1), VehicleType(1))),
        Instance(distance=distance, fleet=(VehicleType(2, unit_duration_cost=1),)),
    ):
        with pytest.raises(ValueError, match="VRPLIB cannot express"):
            nco.write(instance, tmp_path / "lossy.vrp")
    assert not list(tmp_path.iterdir())
    limited = Instance(distance=distance, demand=[0, 1, 1], max_route_duration=7)
    again = nco.read(nco.write(limited, tmp_path / "limited.vrp"))
    assert again.vehicle_types == limited.vehicle_types and again.max_route_duration == 7


# -- JSON: every field typed and ranged ---------------------------------------------------------
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("open_routes", "false", r"field open_routes: Input should be a valid boolean \(got 'false'\)"),
        ("capacity", "ten", r"field capacity: Input should be a valid number \(got 'ten'\)"),
        ("num_vehicles", 1.5, r"field num_vehicles: Input should be a valid integer \(got 1.5\)"),
        ("num_vehicles", True, r"field num_vehicles: Input should be a valid integer \(got True\)"),
        (
            "fleet",
            [{"count": "2", "capacity": 3}],
            r"field fleet\[0\].count: Input should be a valid integer \(got '2'\)",
        ),
        ("fleet", [{"count": 2, "seats": 3}], r"field fleet\[0\].seats: Extra inputs are not permitted"),
        ("distance", [[0, 1], [1, "x"]], r"field distance\[1\]\[1\]: Input should be a valid number \(got 'x'\)"),
        ("distance", [[0, 1], [-1, 0]], r"field distance\[1\]\[0\]: Input should be greater than or equal to 0"),
        ("distance", [[0, 1], [1]], r"distance: not a rectangular array of numbers"),
        ("time_windows", [[0, 9], [0, 9, 1]], r"field time_windows\[1\]: List should have at most 2 items"),
        ("demand", [0, float("nan")], r"field demand\[1\]: Input should be a finite number"),
        ("backhaul_mode", "sometimes", r"field backhaul_mode: Input should be 'mixed' or 'strict'"),
        ("name", 7, r"field name: Input should be a valid string \(got 7\)"),
    ],
)
def test_json_fields_are_type_checked(tmp_path: Path, field: str, value: object, message: str) -> None:
    data = {"format": "nco-instance", "version": 1, "distance": [[0, 1], [1, 0]], field: value}
    path = tmp_path / "typed.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InstanceFileError, match=rf"typed.json: .*{message}"):
        nco.read(path)


def test_json_solution_fields_are_type_checked(tmp_path: Path) -> None:
    instance = Instance(distance=np.ones((3, 3)) - np.eye(3))
    path = tmp_path / "s.json"
    for data, message in [
        ({"route": [[1, 2]]}, r"field routes: required but missing"),
        ({"routes": [[1, "2"]]}, r"field routes\[0\]\[1\]: Input should be a valid integer"),
        ({"routes": [[1], [2]], "vehicle_types": [0]}, r"vehicle_types has 1 entries for 2 routes"),
    ]:
        path.write_text(json.dumps(data))
        with pytest.raises(InstanceFileError, match=rf"s.json: {message}"):
            nco.read_solution(path, instance)


def test_vrplib_names_and_comments_holding_eof_do_not_end_the_file(tmp_path: Path) -> None:
    path = tmp_path / "geoff.vrp"
    path.write_text(vrplib_text().replace("NAME: small", "NAME: GEOFF\nCOMMENT: not the EOF yet"))
    instance = nco.read(path)
    assert instance.name == "GEOFF" and instance.num_nodes == 5
    assert nco.read(nco.write(instance, tmp_path / "again.vrp")).name == "GEOFF"
    with pytest.raises(ValueError, match="VRPLIB cannot express .*this name"):
        nco.write(instance.replace(name="A_SECTION"), tmp_path / "bad.vrp")

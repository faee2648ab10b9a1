"""Bring your own stops: VROOM JSON and CSV in, VROOM solutions out, OSRM matrices and road lines.

Real parts only: pyvroom itself, nco's solvers, and a real osrm-routed on the Monaco extract (the
fixtures of test_osrm.py build and serve it on loopback).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import vroom
from test_osrm import dataset, monaco, server, tools  # noqa: F401 - the real osrm-routed fixtures

import nco
from envs.osrm.client import OSRMClient
from envs.osrm.sampling import road_nodes
from envs.osrm.stops import road_problem, route_lines
from nco.cli import main as cli
from nco_core.csv_io import parse_time, read_stops_csv
from nco_core.errors import UnsupportedFeature
from nco_core.evaluate import evaluate
from nco_core.instance import InstanceFileError
from nco_core.stops import StopsError
from nco_core.vroom_io import read_vroom_solution, schedule, vroom_solution

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
EXAMPLE = EXAMPLES / "oslo-deliveries.json"


def small_problem(**changes) -> dict:
    """Four jobs, two vehicles on a 5-location matrix (seconds and metres)."""
    durations = [
        [0, 300, 400, 500, 350],
        [310, 0, 200, 350, 250],
        [390, 210, 0, 150, 300],
        [480, 340, 160, 0, 200],
        [360, 260, 290, 210, 0],
    ]
    problem = {
        "vehicles": [
            {
                "id": 7,
                "start_index": 0,
                "end_index": 0,
                "capacity": [10],
                "time_window": [0, 10000],
                "start": [7.42, 43.73],
                "end": [7.42, 43.73],
            },
            {
                "id": 9,
                "start_index": 0,
                "end_index": 0,
                "capacity": [10],
                "time_window": [0, 10000],
                "start": [7.42, 43.73],
                "end": [7.42, 43.73],
            },
        ],
        "jobs": [
            {
                "id": 100 + j,
                "location_index": j,
                "location": [7.42 + 0.002 * j, 43.73 + 0.001 * j],
                "delivery": [3],
                "service": 60,
            }
            for j in range(1, 5)
        ],
        "matrices": {
            "car": {"durations": durations, "distances": [[round(d * 8.5) for d in row] for row in durations]}
        },
    }
    problem.update(changes)
    return problem


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


# -- VROOM problems -----------------------------------------------------------------------------
def test_vroom_example_keeps_units_and_ids():
    problem = nco.read_problem(EXAMPLE)
    data = json.loads(EXAMPLE.read_text())
    instance = problem.instance
    assert nco.read(EXAMPLE).num_customers == len(data["jobs"]) == 60  # nco.read detects the format
    assert [job.id for job in problem.jobs] == [job["id"] for job in data["jobs"]]
    seconds = np.array(data["matrices"]["car"]["durations"], dtype=float)
    nodes = problem.node_locations
    assert np.array_equal(instance.duration, seconds[np.ix_(nodes, nodes)])  # no unit conversion at all
    job = data["jobs"][0]
    assert instance.service_time[problem.job_node(0)] == job["service"]
    assert instance.vehicle_types[0].capacity == data["vehicles"][0]["capacity"][0]
    assert instance.vehicle_types[0].count == len(data["vehicles"])  # identical vans share one type
    assert instance.vehicle_types[0].unit_duration_cost == 1.0  # VROOM's default: 3600 per hour


@pytest.mark.parametrize("method", ["vroom", "pyvrp", "hybrid"])
def test_vroom_solution_round_trip(method, tmp_path):
    problem = nco.read_problem(EXAMPLE)
    solution = nco.solve(problem.instance, method=method, time_limit=1.0, seed=1)
    assert solution.feasible, solution.violations
    path = nco.write(solution, tmp_path / "solution.json", format="vroom", problem=problem)
    written = json.loads(path.read_text())
    back = read_vroom_solution(path, problem)
    assert back.routes == solution.routes and back.vehicle_types == solution.vehicle_types
    assert back.cost == solution.cost and back.feasible
    assert written["summary"]["cost"] == solution.cost
    assert written["summary"]["unassigned"] == 0 and not written["unassigned"]
    served = [step["id"] for route in written["routes"] for step in route["steps"] if step["type"] == "job"]
    assert sorted(served) == sorted(job.id for job in problem.jobs)  # the user's ids, each once
    vehicles = [route["vehicle"] for route in written["routes"]]
    assert len(set(vehicles)) == len(vehicles) and set(vehicles) <= {v.id for v in problem.vehicles}
    for r, route in enumerate(written["routes"]):
        steps = route["steps"]
        assert [s["type"] for s in steps[:1] + steps[-1:]] == ["start", "end"]
        times = [s["arrival"] for s in steps]
        assert times == sorted(times)
        check = evaluate(problem.instance, [solution.routes[r]], [solution.vehicle_types[r]])
        assert steps[-1]["arrival"] - steps[0]["arrival"] == pytest.approx(check.duration)
        assert route["cost"] == pytest.approx(check.cost)
        assert steps[0]["load"][0] == route["delivery"][0] and steps[-1]["load"][0] == 0
        for step in steps[1:-1]:
            job = problem.jobs[[j.id for j in problem.jobs].index(step["id"])]
            if job.time_window is not None:
                start = step["arrival"] + step["waiting_time"]
                assert job.time_window[0] <= start <= job.time_window[1]


def test_pyvroom_direct_solution_is_accepted_by_the_evaluator():
    """The same file solved by VROOM itself: its plan, read back by id, is feasible for nco."""
    problem = nco.read_problem(EXAMPLE)
    answer = vroom.Input.from_json(EXAMPLE).solve(exploration_level=5, nb_threads=1).to_dict()
    assert answer["summary"]["unassigned"] == 0
    solution = read_vroom_solution("pyvroom", problem, data=answer)
    assert solution.feasible, solution.violations
    # VROOM's cost is fixed costs plus driving seconds; nco's adds service and waiting (documented)
    waiting = answer["summary"]["waiting_time"]
    assert solution.cost == pytest.approx(answer["summary"]["cost"] + answer["summary"]["service"] + waiting)


def test_multi_depot_open_route_and_skills(tmp_path):
    data = small_problem()
    data["vehicles"][1].update(start_index=4, start=[7.43, 43.735], skills=[5])
    del data["vehicles"][1]["end_index"], data["vehicles"][1]["end"]  # ends at its last job
    data["jobs"][3]["skills"] = [5]
    problem = nco.read_problem(write_json(tmp_path / "p.json", data))
    instance = problem.instance
    assert instance.num_depots == 2 and instance.vehicle_types[1].end_depot is None
    assert not instance.allowed[0, problem.job_node(3)]
    for method in ("vroom", "ortools"):
        solution = nco.solve(instance, method=method, time_limit=1.0)
        assert solution.feasible, (method, solution.violations)
        plan = vroom_solution(problem, solution)
        for r, route in enumerate(plan["routes"]):
            times = schedule(problem, solution.routes[r], solution.vehicle_types[r])
            finish = times["arrival"][-1] + times["service"][-1]
            check = evaluate(instance, [solution.routes[r]], [solution.vehicle_types[r]])
            assert finish - times["arrival"][0] == pytest.approx(check.duration)
            if route["vehicle"] == 9:
                assert route["steps"][0]["location_index"] == 4
                assert 104 in [s.get("id") for s in route["steps"]]


def test_vroom_reader_refuses_what_it_cannot_model(tmp_path):
    cases = {
        "shipments": small_problem(
            shipments=[{"pickup": {"id": 1, "location_index": 1}, "delivery": {"id": 2, "location_index": 2}}]
        ),
        "several time windows": small_problem(
            jobs=[{"id": 1, "location_index": 1, "time_windows": [[0, 10], [20, 30]]}]
        ),
        "breaks": small_problem(vehicles=[{"id": 1, "start_index": 0, "breaks": [{"id": 1}]}]),
        "max_travel_time": small_problem(vehicles=[{"id": 1, "start_index": 0, "max_travel_time": 100}]),
        "2 dimensions": small_problem(jobs=[{"id": 1, "location_index": 1, "delivery": [1, 2]}]),
        "priority alongside optional jobs": small_problem(
            jobs=[{"id": 1, "location_index": 1, "priority": 5}, {"id": 2, "location_index": 2, "prize": 9}]
        ),
    }
    for feature, data in cases.items():
        with pytest.raises(UnsupportedFeature, match=feature):
            nco.read_problem(write_json(tmp_path / "p.json", data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["jobs"].append(dict(d["jobs"][0])), "job id 101 appears twice"),
        (lambda d: d["vehicles"][1].update(id=7), "vehicle id 7 appears twice"),
        (lambda d: d["jobs"][1].update(location=[43.73, 97.5]), r"job 102: latitude 97.5 .* swapped"),
        (lambda d: d["jobs"][2].update(skills=[3]), "job 103: skill 3 is held by no vehicle"),
        (lambda d: d["jobs"][0].update(delivery=[11]), "job 101: no vehicle can carry it"),
        (
            lambda d: [
                d["vehicles"][0].update(skills=[1]),
                d["vehicles"][1].update(skills=[2]),
                d["jobs"][0].update(skills=[1, 2]),
            ],
            r"job 101: no vehicle has all its skills \['1', '2'\]",
        ),
        (lambda d: d["jobs"][0].update(time_windows=[[20000, 30000]]), "job 101: its time window"),
        (lambda d: d["jobs"][0].pop("location_index"), "job 101: no location_index"),
        (lambda d: d["jobs"][0].update(sevice=60), "jobs.0.sevice: Extra inputs"),
        (lambda d: d["jobs"][0].update(location_index=9), "location index 9 is used"),
    ],
)
def test_vroom_bad_input_names_the_id(tmp_path, change, message):
    data = small_problem()
    change(data)
    path = write_json(tmp_path / "bad.json", data)
    with pytest.raises(InstanceFileError, match=message) as caught:
        nco.read_problem(path)
    assert str(caught.value).startswith(str(path))


def test_solution_with_unknown_ids_is_refused():
    problem = nco.read_problem(EXAMPLE)
    plan = vroom_solution(problem, nco.solve(problem.instance, method="vroom", time_limit=0.5))
    wrong_vehicle = json.loads(json.dumps(plan))
    wrong_vehicle["routes"][0]["vehicle"] = 99
    with pytest.raises(InstanceFileError, match="vehicle id 99 is not in"):
        read_vroom_solution("x.json", problem, data=wrong_vehicle)
    wrong_job = json.loads(json.dumps(plan))
    wrong_job["routes"][0]["steps"][1]["id"] = 5
    with pytest.raises(InstanceFileError, match="job id 5 is not in"):
        read_vroom_solution("x.json", problem, data=wrong_job)


# -- CSV --------------------------------------------------------------------------------------------
def test_times_as_seconds_or_clock():
    assert parse_time("5400") == parse_time("01:30") == parse_time("01:30:00") == 5400
    for bad in ("1:75", "noon", "-5", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_csv_example_matches_the_vroom_example():
    csv_problem = read_stops_csv(EXAMPLES / "oslo-stops.csv", EXAMPLES / "oslo-fleet.csv")
    vroom_problem = nco.read_problem(EXAMPLE)
    assert [str(job.id) for job in vroom_problem.jobs] == [job.id for job in csv_problem.jobs]
    for a, b in zip(csv_problem.jobs, vroom_problem.jobs, strict=True):
        assert (a.delivery, a.service, a.time_window) == (b.delivery, b.service, b.time_window)
        assert np.allclose(csv_problem.coordinates[a.location], vroom_problem.coordinates[b.location])
    assert [v.time_window for v in csv_problem.vehicles] == [v.time_window for v in vroom_problem.vehicles]
    with pytest.raises(StopsError, match="no matrices"):
        _ = csv_problem.instance


def csv_file(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("stops", "fleet", "message"),
    [
        (["id,lat,lon", "d,43.72,7.42", "a,43.73,7.42", "a,43.74,7.42"], None, "job id 'a' appears twice"),
        (["id,lat,lon", "d,43.73,7.42", "b,43.74,243.74"], None, r"job 'b': longitude 243.74 is outside"),
        (["id,lat,lon", "d,43.73,7.42", "b,97.42,43.74"], None, r"job 'b': latitude 97.42 .* swapped"),
        (["id,lat,lon", "d,43.73,7.42", "b,,7.43"], None, r"line 3, column 'lat' \(id 'b'\): missing"),
        (
            ["id,lat,lon,demand", "b,43.73,7.42,5"],
            ["id,start_lat,start_lon,capacity", "v,43.7,7.4,4"],
            "job 'b': no vehicle can carry it",
        ),
        (
            ["id,lat,lon,skills", "b,43.73,7.42,fridge"],
            ["id,start_lat,start_lon,skills", "v,43.7,7.4,lift"],
            "job 'b': skill fridge is held by no vehicle",
        ),
        (
            ["id,lat,lon,tw_start,tw_end", "b,43.73,7.42,9:00,noon"],
            ["id,start_lat,start_lon", "v,43.7,7.4"],
            r"column 'tw_end' \(id 'b'\): 'noon'",
        ),
        (["id,lat,lon,colour", "b,43.73,7.42,red"], None, "unknown column 'colour'"),
        (["id,lat,lon"], None, "no rows"),
    ],
)
def test_csv_bad_input_names_the_id(tmp_path, stops, fleet, message):
    stops_path = csv_file(tmp_path / "stops.csv", stops)
    fleet_path = csv_file(tmp_path / "fleet.csv", fleet) if fleet else None
    with pytest.raises(InstanceFileError, match=message):
        read_stops_csv(stops_path, fleet_path)


def test_csv_fleet_starts_ends_and_shifts(tmp_path):
    stops = csv_file(tmp_path / "s.csv", ["id,lat,lon,demand,service", "a,43.731,7.421,2,90", "b,43.735,7.425,1,00:01"])
    fleet = csv_file(
        tmp_path / "f.csv",
        [
            "id,start_lat,start_lon,end_lat,end_lon,capacity,shift_start,shift_end",
            "van,43.73,7.42,43.74,7.43,5,08:00,17:30",
            "bike,43.73,7.42,,,,,",
        ],
    )
    problem = read_stops_csv(stops, fleet)
    van, bike = problem.vehicles
    assert van.time_window == (8 * 3600, 17.5 * 3600) and van.end != van.start and van.capacity == 5
    assert bike.end is None and math.isinf(bike.capacity) and bike.time_window is None
    assert problem.jobs[1].service == 60
    assert len(problem.depots) == 2


# -- OSRM: real osrm-routed on Monaco ---------------------------------------------------------------
def monaco_stops(dataset, tmp_path: Path, count: int = 15, extra: str | None = None) -> tuple[Path, Path]:  # noqa: F811
    nodes = road_nodes(dataset.base)
    rng = np.random.default_rng(3)
    points = nodes[rng.choice(len(nodes), count + 1, replace=False)]
    rows = ["id,lat,lon,demand,tw_start,tw_end,service"]
    rows += [f"stop-{i},{lat:.6f},{lon:.6f},2,,,120" for i, (lat, lon) in enumerate(points[1:])]
    if extra:
        rows.append(extra)
    depot = points[0]
    fleet = ["id,start_lat,start_lon,capacity,shift_start,shift_end"]
    fleet += [f"van-{v},{depot[0]:.6f},{depot[1]:.6f},12,08:00,12:00" for v in range(4)]
    return csv_file(tmp_path / "stops.csv", rows), csv_file(tmp_path / "fleet.csv", fleet)


def test_csv_stops_osrm_plan_and_road_lines(server, dataset, tmp_path):  # noqa: F811
    stops, fleet = monaco_stops(dataset, tmp_path)
    client = OSRMClient(server.url)
    problem = road_problem(read_stops_csv(stops, fleet), client)
    instance = problem.instance
    assert instance.duration.max() < 3600 and instance.distance.max() > 100  # seconds and metres in Monaco
    solution = nco.solve(instance, method="pyvrp", time_limit=1.0)
    assert solution.feasible, solution.violations
    lines = route_lines(problem, solution, client)
    geojson = nco.plot.geojson(problem, solution, lines)
    routes = [f for f in geojson["features"] if f["properties"]["kind"] == "route"]
    assert len(routes) == solution.num_routes
    for feature, route in zip(routes, solution.routes, strict=True):
        assert len(feature["geometry"]["coordinates"]) > len(route) + 2  # follows the roads, not the stops
    vertices = sum(len(f["geometry"]["coordinates"]) for f in routes)
    assert vertices > 3 * len(problem.jobs)


def test_unroutable_stop_is_named(server, dataset, tmp_path):  # noqa: F811
    stops, fleet = monaco_stops(dataset, tmp_path, 5, extra="in-the-sea,43.69,7.46,1,,,0")
    with pytest.raises(StopsError, match=r"job 'in-the-sea' at \(43.69, 7.46\) is \d+ m from the nearest road"):
        road_problem(read_stops_csv(stops, fleet), OSRMClient(server.url))


def test_cli_stops_with_osrm_writes_every_output(server, dataset, tmp_path, capsys):  # noqa: F811
    stops, fleet = monaco_stops(dataset, tmp_path)
    out = tmp_path / "out"
    code = cli(
        [
            "solve",
            str(stops),
            "--vehicles",
            str(fleet),
            "--osrm-url",
            server.url,
            "--method",
            "vroom",
            "--time-limit",
            "1",
            "--out",
            str(out / "solution.json"),
            "--map",
            str(out / "routes.html"),
            "--geojson",
            str(out / "routes.geojson"),
            "--png",
            str(out / "routes.png"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["routes.geojson", "routes.html", "routes.png", "solution.json"]
    plan = json.loads((out / "solution.json").read_text())
    assert plan["nco"]["feasible"] and {s["id"] for r in plan["routes"] for s in r["steps"] if s["type"] == "job"} == {
        f"stop-{i}" for i in range(15)
    }
    assert "route 1 (vehicle van-" in capsys.readouterr().out


def test_cli_bad_stops_write_nothing(server, dataset, tmp_path, capsys):  # noqa: F811
    stops, fleet = monaco_stops(dataset, tmp_path, 5, extra="in-the-sea,43.69,7.46,1,,,0")
    out = tmp_path / "out"
    code = cli(
        [
            "solve",
            str(stops),
            "--vehicles",
            str(fleet),
            "--osrm-url",
            server.url,
            "--out",
            str(out / "solution.json"),
            "--map",
            str(out / "routes.html"),
        ]
    )
    assert code == 2
    assert "in-the-sea" in capsys.readouterr().err
    assert not out.exists()


def test_cli_example_offline(tmp_path, capsys):
    out = tmp_path / "solution.json"
    code = cli(
        [
            "solve",
            str(EXAMPLE),
            "--method",
            "vroom",
            "--time-limit",
            "0.5",
            "--out",
            str(out),
            "--geojson",
            str(tmp_path / "r.geojson"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert json.loads(out.read_text())["summary"]["routes"] >= 5
    lines = [
        f for f in json.loads((tmp_path / "r.geojson").read_text())["features"] if f["geometry"]["type"] == "LineString"
    ]
    assert all(len(f["geometry"]["coordinates"]) == f["properties"]["jobs"] + 2 for f in lines)  # straight
    code = cli(["solve", "data/instances/does-not-exist.vrp", "--map", str(tmp_path / "m.html")])
    assert code == 2


def test_cli_pbf_builds_and_serves_a_local_osrm(monaco, dataset, tmp_path, capsys):  # noqa: F811
    stops, fleet = monaco_stops(dataset, tmp_path, 6)
    code = cli(
        [
            "solve",
            str(stops),
            "--vehicles",
            str(fleet),
            "--pbf",
            str(monaco),
            "--method",
            "ortools",
            "--time-limit",
            "1",
            "--geojson",
            str(tmp_path / "r.geojson"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    lines = [
        f for f in json.loads((tmp_path / "r.geojson").read_text())["features"] if f["geometry"]["type"] == "LineString"
    ]
    assert lines and all(len(f["geometry"]["coordinates"]) > f["properties"]["jobs"] + 2 for f in lines)


def test_max_tasks_and_max_distance_reach_the_model(tmp_path):
    data = small_problem()
    for vehicle in data["vehicles"]:
        vehicle.update(max_tasks=2, max_distance=9000)
    problem = nco.read_problem(write_json(tmp_path / "p.json", data))
    kind = problem.instance.vehicle_types[0]
    assert (kind.max_tasks, kind.max_distance, kind.count) == (2, 9000, 2)
    solution = nco.solve(problem.instance, method="vroom", time_limit=0.5)
    assert solution.feasible and all(len(route) <= 2 for route in solution.routes)
    assert all(route["distance"] <= 9000 for route in vroom_solution(problem, solution)["routes"])


def test_optional_jobs_with_prizes_are_reported_unassigned(tmp_path, capsys):
    data = small_problem()
    data["jobs"][2]["prize"] = 1  # not worth a detour: left out, and reported
    data["jobs"][3]["prize"] = 100000  # worth it: served
    path = write_json(tmp_path / "p.json", data)
    problem = nco.read_problem(path)
    assert list(problem.instance.is_required[problem.job_node(0) :]) == [True, True, False, False]
    for method in ("vroom", "pyvrp"):
        solution = nco.solve(problem.instance, method=method, time_limit=0.5)
        assert solution.feasible, (method, solution.violations)
        plan = vroom_solution(problem, solution)
        assert [job["id"] for job in plan["unassigned"]] == [103], method
        assert plan["summary"]["unassigned"] == 1
    code = cli(["solve", str(path), "--method", "vroom", "--time-limit", "0.5", "--out", str(tmp_path / "s.json")])
    assert code == 0, capsys.readouterr().err  # every required job served: a feasible plan
    assert json.loads((tmp_path / "s.json").read_text())["unassigned"][0]["id"] == 103

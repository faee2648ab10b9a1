"""Several depots, per-vehicle start and end, shifts, task and distance limits, optional clients:
solved by the real PyVRP, OR-Tools and VROOM, every answer judged by nco's evaluator.

The fixture is small enough that each backend finds the optimum in well under a second, so the
tests can say what the right answer is: two depots 100 apart on a line (driving "back", towards
lower x, takes 1.2x longer), six required clients between them, an optional client on the way
with a big prize (worth serving) and one 30 past depot 1 with a prize of 1 (a detour of 66: not
worth it). Vehicle 0 drives depot 0 -> depot 1 with a shift that ends at 130 (travel 100, service
10 per client: at most 3 clients), vehicle 1 drives depot 1 -> depot 0 (at most 6 clients, 300
distance), so the shift binds: no single vehicle can serve everything.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import nco
from nco import Instance, VehicleType, evaluate
from nco_core.errors import UnsupportedFeature
from nco_core.instance import InstanceFileError

BACKENDS = ("pyvrp", "ortools", "vroom")
POSITIONS = np.array([0, 100, 10, 20, 30, 70, 80, 90, 50, 130], dtype=float)
BIG_PRIZE, SMALL_PRIZE = 8, 9  # the optional clients
OPTIMUM = 100 + 120 + 1  # both depot-to-depot drives, plus the small prize left uncollected


def line_matrix(positions: np.ndarray) -> np.ndarray:
    gap = positions[None, :] - positions[:, None]
    return np.where(gap >= 0, gap, -1.2 * gap)


def two_depots(**vehicle_changes: object) -> Instance:
    required = np.ones(len(POSITIONS), dtype=bool)
    required[[BIG_PRIZE, SMALL_PRIZE]] = False
    prize = np.zeros(len(POSITIONS))
    prize[BIG_PRIZE], prize[SMALL_PRIZE] = 1000.0, 1.0
    second = dict(count=1, start_depot=1, end_depot=0, time_window=(0.0, 300.0), max_tasks=6, max_distance=300.0)
    second.update(vehicle_changes)
    return Instance(
        distance=line_matrix(POSITIONS),
        service_time=np.r_[0.0, 0.0, np.full(8, 10.0)],
        fleet=(VehicleType(count=1, start_depot=0, end_depot=1, time_window=(0.0, 130.0)), VehicleType(**second)),
        num_depots=2,
        required=required,
        prize=prize,
        coordinates=np.c_[POSITIONS, np.zeros(len(POSITIONS))],
        name="two-depots",
    )


@pytest.mark.parametrize("method", BACKENDS)
def test_backends_solve_two_depots_with_shifts_and_prizes(method: str) -> None:
    instance = two_depots()
    solution = nco.solve(instance, method=method, time_limit=1.0, seed=0)
    assert solution.feasible, solution.violations
    served = {node for route in solution.routes for node in route}
    assert BIG_PRIZE in served and SMALL_PRIZE not in served
    assert solution.unassigned == [SMALL_PRIZE] and solution.uncollected == 1.0
    assert sorted(solution.vehicle_types) == [0, 1]  # the shift binds: both vehicles are needed
    assert solution.cost == pytest.approx(OPTIMUM)
    # the cost is the evaluator's, route by route from each vehicle's own depots
    again = evaluate(instance, solution.routes, solution.vehicle_types)
    assert again.cost == solution.cost and again.feasible


@pytest.mark.parametrize("method", BACKENDS)
def test_backends_solve_mixed_open_and_closed_ends(method: str) -> None:
    """Vehicle 1 ends open, at its last client: vehicle 0 takes the three clients nearest depot 0
    on its way, vehicle 1 the rest and stops at x = 50 (60 of driving instead of 120)."""
    instance = two_depots(end_depot=None)
    assert instance.features()["mixed_route_ends"] and not instance.open_routes
    solution = nco.solve(instance, method=method, time_limit=1.0, seed=0)
    assert solution.feasible, solution.violations
    assert solution.cost == pytest.approx(100 + 60 + 1)
    assert solution.routes[solution.vehicle_types.index(1)][-1] == BIG_PRIZE


@pytest.mark.parametrize("method", BACKENDS)
def test_an_open_route_finishes_after_its_last_service(method: str) -> None:
    """Vehicle 1 ends open with a shift ending at 95: serving 90, 80, 70 and 50 would finish at
    60 of travel + 40 of service = 100 (at 90 if the last service were forgotten), so the
    big-prize client at 50 must be left out."""
    instance = two_depots(end_depot=None, time_window=(0.0, 95.0))
    solution = nco.solve(instance, method=method, time_limit=1.0, seed=0)
    assert solution.feasible, solution.violations
    assert solution.unassigned == [BIG_PRIZE, SMALL_PRIZE]
    assert solution.cost == pytest.approx(100 + 36 + 1000 + 1)


@pytest.mark.parametrize("method", BACKENDS)
def test_max_tasks_binds_in_every_backend(method: str) -> None:
    """Vehicle 1 capped at 3 clients and vehicle 0 at 3 by its shift leave room for the six
    required clients only: the big-prize client is left out and its prize paid."""
    instance = two_depots(max_tasks=3)
    solution = nco.solve(instance, method=method, time_limit=1.0, seed=0)
    assert solution.feasible, solution.violations
    assert sorted(len(route) for route in solution.routes) == [3, 3]
    assert solution.unassigned == [BIG_PRIZE, SMALL_PRIZE]
    assert solution.cost == pytest.approx(100 + 120 + 1000 + 1)


@pytest.mark.parametrize("method", BACKENDS)
def test_max_distance_binds_in_every_backend(method: str) -> None:
    """Vehicle 1, open-ended, may drive 50: it cannot reach x = 50 (60 away), so it serves the
    clients at 90, 80 and 70 (36), and the big-prize client does not fit vehicle 0's shift."""
    instance = two_depots(end_depot=None, max_distance=50.0)
    solution = nco.solve(instance, method=method, time_limit=1.0, seed=0)
    assert solution.feasible, solution.violations
    assert solution.unassigned == [BIG_PRIZE, SMALL_PRIZE]
    assert solution.cost == pytest.approx(100 + 36 + 1000 + 1)


def test_pyvrp_refuses_a_distance_limit_it_cannot_state_exactly() -> None:
    instance = two_depots().replace(preference=np.zeros((2, len(POSITIONS))) + np.eye(2, len(POSITIONS), 5))
    with pytest.raises(UnsupportedFeature, match="max_distance"):
        nco.solve(instance, method="pyvrp", time_limit=0.2, seed=0)


def test_neural_refuses_and_hybrid_refines_alone() -> None:
    instance = two_depots()
    with pytest.raises(UnsupportedFeature, match="multiple_depots"):
        nco.solve(instance, method="neural", time_limit=1.0, seed=0)
    solution = nco.solve(instance, method="hybrid", time_limit=1.0, seed=0)
    assert solution.feasible and solution.cost == pytest.approx(OPTIMUM)
    assert "skipped" in str(solution.info.get("neural", ""))


def test_nco_json_round_trips_the_new_fields(tmp_path) -> None:
    instance = two_depots(end_depot=None)
    path = tmp_path / "two.json"
    nco.write(instance, path)
    back = nco.read(path)
    assert back.num_depots == 2 and back.vehicle_types == instance.vehicle_types
    assert np.array_equal(back.required, instance.required) and np.array_equal(back.prize, instance.prize)
    assert back.vehicle_types[1].end_depot is None and back.vehicle_types[0].time_window == (0.0, 130.0)
    assert math.isinf(back.vehicle_types[0].max_distance)


@pytest.mark.parametrize(
    ("vehicle", "where"),
    [
        ({"count": 1, "end_depot": "none"}, "fleet[0].end_depot"),
        ({"count": 1, "time_window": [5.0]}, "fleet[0].time_window"),
        ({"count": 1, "max_tasks": 1.5}, "fleet[0].max_tasks"),
        ({"count": 1, "start_depot": 3}, "fleet[0].start_depot = 3 is not a depot"),
    ],
)
def test_nco_json_names_a_bad_new_field(tmp_path, vehicle: dict, where: str) -> None:
    document = {
        "format": "nco-instance",
        "version": 1,
        "distance": line_matrix(POSITIONS[:4]).tolist(),
        "num_depots": 2,
        "fleet": [vehicle],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InstanceFileError, match=re.escape(where)) as error:
        nco.read(path)
    assert str(error.value).startswith(str(path))


def test_nco_json_without_the_new_fields_reads_as_one_depot(tmp_path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {
                "format": "nco-instance",
                "version": 1,
                "distance": line_matrix(POSITIONS[:4]).tolist(),
                "fleet": [{"count": 2, "capacity": 5.0}],
                "demand": [0, 1, 1, 1],
            }
        )
    )
    instance = nco.read(path)
    assert instance.num_depots == 1 and instance.required is None and instance.prize is None
    assert instance.vehicle_types[0].start_depot == 0 and instance.vehicle_types[0].end_depot == 0

"""The evaluator: reproduces published costs, and flags every kind of broken constraint."""

from pathlib import Path

import numpy as np
import pytest

import nco
from nco import Instance, VehicleType, evaluate
from nco_core.evaluate import schedule

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
X_FILES = sorted((BENCHMARKS / "cvrplib_x").glob("X-*.vrp"))


@pytest.mark.skipif(not X_FILES, reason=f"CVRPLIB X instances not found under {BENCHMARKS}")
@pytest.mark.parametrize("path", X_FILES[:: max(1, len(X_FILES) // 12)], ids=lambda p: p.stem)
def test_reproduces_cvrplib_best_known_costs(path: Path) -> None:
    instance = nco.read(path)
    solution = nco.read_solution(path.with_suffix(".sol"), instance)
    assert solution.feasible, solution.violations
    assert solution.cost == pytest.approx(instance.best_known_cost, abs=1e-6)


def line(n: int) -> np.ndarray:
    """Customers on a line: |i - j|, with a detour factor one way to make it asymmetric."""
    position = np.arange(n + 1, dtype=float)
    matrix = np.abs(position[:, None] - position[None, :])
    return matrix + np.triu(np.ones_like(matrix), 1) * 0.5  # going "up" costs 0.5 extra


def kinds(instance: Instance, routes, types=None) -> set[str]:
    return {v.kind for v in evaluate(instance, routes, types).violations}


def test_plain_cost_on_asymmetric_matrix() -> None:
    instance = Instance(distance=line(3))
    result = evaluate(instance, [[1, 2, 3]])
    assert result.feasible
    assert result.distance == pytest.approx(1.5 + 1.5 + 1.5 + 3)
    assert evaluate(instance, [[3, 2, 1]]).distance == pytest.approx(3.5 + 1 + 1 + 1)


def test_coverage_violations() -> None:
    instance = Instance(distance=line(3))
    assert kinds(instance, [[1, 2]]) == {"unvisited"}
    assert kinds(instance, [[1, 2], [2, 3]]) == {"duplicate"}
    assert kinds(instance, [[1, 2, 3, 7]]) == {"invalid_node"}
    assert kinds(instance, [[0, 1, 2, 3]]) == {"invalid_node"}
    assert evaluate(instance, [[1, 2, 3, 7]]).cost == float("inf")


def test_capacity_and_fleet_size() -> None:
    instance = Instance(distance=line(3), demand=[0, 2, 2, 2], capacity=4, num_vehicles=2)
    assert evaluate(instance, [[1, 2], [3]]).feasible
    assert kinds(instance, [[1, 2, 3]]) == {"capacity"}
    assert kinds(instance, [[1], [2], [3]]) == {"fleet_size"}


def test_mixed_and_strict_backhaul() -> None:
    base = dict(distance=line(3), demand=[0, 3, 0, 1], pickup=[0, 0, 3, 0], capacity=4)
    mixed = Instance(**base)
    # load starts at 4, drops to 1 after node 1, 4 after pickup at node 2, 3 after node 3
    assert evaluate(mixed, [[1, 2, 3]]).feasible
    assert kinds(mixed, [[2, 1, 3]]) == {"capacity"}  # 4 + 3 on board after the pickup
    strict = Instance(**base, backhaul_mode="strict")
    assert kinds(strict, [[1, 2, 3]]) == {"backhaul_order"}
    assert evaluate(strict, [[1, 3, 2]]).feasible


def test_time_windows_waiting_and_shortest_duration() -> None:
    travel = np.ones((3, 3)) - np.eye(3)
    instance = Instance(
        distance=travel * 7, duration=travel, time_windows=[[0, 100], [10, 20], [0, 5]], service_time=[0, 2, 1]
    )
    late = evaluate(instance, [[1, 2]])
    assert [v.node for v in late.violations] == [2]  # reaches node 2 at 13 > 5
    result = evaluate(instance, [[2], [1]])
    assert result.feasible
    # node 1: leave at 9 instead of 0, arrive 10, serve 2, back at 13 -> 4; node 2: 1 + 1 + 1 = 3
    assert result.duration == pytest.approx(7)
    assert result.distance == pytest.approx(28)
    depot_closed = instance.replace(time_windows=[[0, 12], [10, 20], [0, 5]])
    assert kinds(depot_closed, [[2], [1]]) == {"time_window"}


def test_max_duration_and_open_routes() -> None:
    instance = Instance(distance=line(3), max_route_duration=6)
    assert kinds(instance, [[1, 2, 3]]) == {"max_duration"}  # 4.5 out + 3 back
    opened = instance.replace(open_routes=True)
    result = evaluate(opened, [[1, 2, 3]])
    assert result.feasible and result.distance == pytest.approx(4.5)


def test_heterogeneous_fleet_profiles_costs_zones_and_preferences() -> None:
    two = np.stack([line(2), 2 * line(2)])
    instance = Instance(
        distance=two,
        duration=two / 2,
        fleet=(
            VehicleType(count=1, fixed_cost=10, profile=0),
            VehicleType(count=1, profile=1, unit_distance_cost=0, unit_duration_cost=3),
        ),
        allowed=[[True, True, False], [True, True, True]],
        preference=[[0, 1, 0], [0, 0, 0.5]],
    )
    result = evaluate(instance, [[1], [2]], [0, 1])
    # type 0: 10 + (1.5 + 1) - 1 ; type 1 on profile 1: duration (2*2.5 + 2*2)/2 = 4.5 -> 13.5 - 0.5
    assert result.feasible
    assert result.cost == pytest.approx(11.5 + 13.0)
    assert kinds(instance, [[1, 2]], [0]) == {"forbidden"}
    assert kinds(instance, [[1], [2]], [0, 7]) == {"vehicle_type"}
    with pytest.raises(ValueError, match="give vehicle_types"):
        evaluate(instance, [[1], [2]])


def test_unreachable_arc_is_infeasible() -> None:
    matrix = line(3)
    matrix[1, 2] = np.inf
    instance = Instance(distance=matrix)
    result = evaluate(instance, [[1, 2, 3]])
    assert {v.kind for v in result.violations} == {"unreachable_arc"} and result.cost == float("inf")
    assert evaluate(instance, [[2, 1, 3]]).feasible


def test_solution_of_carries_the_verdict() -> None:
    instance = Instance(distance=line(3), demand=[0, 2, 2, 2], capacity=4)
    solution = nco.Solution.of(instance, [[1, 2, 3], []], method="hand")
    assert solution.routes == [[1, 2, 3]] and not solution.feasible
    assert "load 6 exceeds capacity 4" in str(solution)


def test_huge_finite_distances_overflow_to_a_violation_never_an_error() -> None:
    huge = np.full((3, 3), 1e308)
    np.fill_diagonal(huge, 0)
    result = evaluate(Instance(distance=huge), [[1, 2]])  # 3e308 overflows: the route has no finite cost
    assert [v.kind for v in result.violations] == ["overflow"] and result.cost == float("inf")
    # durations that overflow but enter neither the cost nor a limit change nothing
    assert evaluate(Instance(distance=np.ones((3, 3)), duration=huge), [[1, 2]]).feasible
    limited = Instance(distance=np.ones((3, 3)), duration=huge, max_route_duration=5)
    assert kinds(limited, [[1], [2]]) == {"max_duration"}
    windows = Instance(distance=huge, time_windows=[[0, 1e308]] * 3, service_time=[0, 1e308, 1e308])
    assert {"overflow", "time_window"} <= kinds(windows, [[1, 2]])


def test_an_infinite_travel_time_is_an_unreachable_arc() -> None:
    duration = line(3)
    duration[2, 3] = np.inf
    instance = Instance(distance=line(3), duration=duration)
    assert kinds(instance, [[1, 2, 3]]) == {"unreachable_arc"}
    assert evaluate(instance, [[1, 3, 2]]).feasible


def depots(**second: object) -> Instance:
    """Depots 0 and 1 at x = 0 and 100, clients 2..4 at 10, 20, 30 (driving back costs 1.2x);
    vehicle 0 drives depot 0 -> depot 1, vehicle 1 leaves depot 1 and ends open; client 4 is
    optional with prize 7."""
    x = np.array([0, 100, 10, 20, 30], dtype=float)
    gap = x[None, :] - x[:, None]
    fleet = (
        VehicleType(1, start_depot=0, end_depot=1, time_window=(0.0, 125.0), max_tasks=2),
        VehicleType(1, start_depot=1, end_depot=None, **second),
    )
    return Instance(
        distance=np.where(gap >= 0, gap, -1.2 * gap),
        service_time=[0, 0, 10, 10, 10],
        fleet=fleet,
        num_depots=2,
        required=[True, True, True, True, False],
        prize=[0, 0, 0, 0, 7],
    )


def test_routes_run_between_their_vehicle_types_depots() -> None:
    instance = depots()
    closed = evaluate(instance, [[2, 3]], [0])  # 0 -> 10 -> 20 -> 100
    assert closed.feasible and closed.distance == pytest.approx(100)
    assert closed.unassigned == (4,) and closed.cost == pytest.approx(100 + 7)  # the prize left uncollected
    opened = evaluate(instance, [[3, 2]], [1])  # 100 -> 20 -> 10, no way back
    assert opened.feasible and opened.distance == pytest.approx(96 + 12)
    # the same clients on the other vehicle: the route is scored from that vehicle's depots
    assert evaluate(instance, [[2, 3]], [1]).distance == pytest.approx(108 + 10)
    both = evaluate(instance, [[2, 3], [4]], [0, 1])
    assert both.feasible and both.unassigned == () and both.cost == pytest.approx(100 + 84)


def test_a_depot_inside_a_route_and_a_missing_required_client() -> None:
    instance = depots()
    result = evaluate(instance, [[1, 2, 3]], [0])
    assert [(v.kind, v.node) for v in result.violations] == [("invalid_node", 1)]
    assert "depot" in result.violations[0].message
    missing = evaluate(instance, [[2]], [0])
    assert [(v.kind, v.node) for v in missing.violations] == [("unvisited", 3)]
    assert missing.unassigned == (4,)  # optional: reported, not a violation


def test_shift_and_max_tasks_are_checked() -> None:
    instance = depots()
    assert evaluate(instance, [[2, 3]], [0]).feasible  # finishes at 100 + 20 = 120 <= 125
    result = evaluate(instance, [[2, 3, 4]], [0])  # finishes at 130 and serves 3 > 2 clients
    assert {v.kind for v in result.violations} == {"shift", "max_tasks"}
    shift = next(v for v in result.violations if v.kind == "shift")
    assert shift.amount == pytest.approx(5) and "130" in shift.message


def test_shift_start_delays_departure_and_bounds_an_open_finish() -> None:
    instance = depots(time_window=(50.0, 140.0))
    result = evaluate(instance, [[4]], [1])  # leaves at 50, arrives at 50 + 84, serves until 144
    assert result.duration == pytest.approx(94)
    assert [(v.kind, v.amount) for v in result.violations if v.route is not None] == [("shift", pytest.approx(4))]
    assert evaluate(depots(time_window=(50.0, 144.0)), [[2, 3], [4]], [0, 1]).feasible


def test_end_depot_closing_time_is_a_time_window() -> None:
    instance = depots().replace(time_windows=[[0, 1000], [0, 105], [0, 1000], [0, 1000], [0, 1000]])
    result = evaluate(instance, [[2]], [0])  # reaches depot 1 at 110
    late = [v for v in result.violations if v.kind == "time_window"]
    assert [(v.node, v.amount) for v in late] == [(1, pytest.approx(5))] and "depot 1" in late[0].message
    # its opening time does not bind an arrival: the route ends when it gets there, no waiting
    opening = depots().replace(time_windows=[[0, 1000], [500, 1000], [0, 1000], [0, 1000], [0, 1000]])
    result = evaluate(opening, [[2, 3]], [0])
    assert result.feasible and result.duration == pytest.approx(100 + 20)


def test_max_distance_is_checked() -> None:
    instance = depots(max_distance=110.0)
    assert evaluate(instance, [[4], [3, 2]], [0, 1]).feasible  # 108
    assert {v.kind for v in evaluate(instance, [[4], [2, 3]], [0, 1]).violations} == {"max_distance"}  # 118


def test_solution_reports_unassigned_optional_clients() -> None:
    solution = nco.Solution.of(depots(), [[2, 3]], [0])
    assert solution.feasible and solution.unassigned == [4] and solution.uncollected == 7
    assert solution.to_dict()["unassigned"] == [4] and "optional" in str(solution)


def test_schedule_gives_the_times_the_evaluator_charges() -> None:
    """Vehicle 1 (open, from depot 1 at x = 100) reaches client 4 (x = 30) after 84 but its window
    opens at 100: the vehicle leaves at 16 instead of waiting, and finishes its last service at 144."""
    windows = [[0, 1000], [0, 1000], [0, 1000], [0, 1000], [100, 200]]
    instance = depots().replace(time_windows=windows)
    timed = schedule(instance, [4, 2], 1)
    assert list(timed.nodes) == [1, 4, 2]
    assert timed.departure == pytest.approx(16) and list(timed.arrival) == pytest.approx([16, 100, 134])
    assert list(timed.waiting) == [0, 0, 0] and list(timed.service) == [0, 10, 10]
    assert timed.finish == pytest.approx(144)
    assert timed.finish - timed.departure == pytest.approx(evaluate(instance, [[4, 2]], [1]).duration)

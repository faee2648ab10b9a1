"""The evaluator: reproduces published costs, and flags every kind of broken constraint."""

from pathlib import Path

import numpy as np
import pytest

import nco
from nco import Instance, VehicleType, evaluate

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
    instance = Instance(distance=travel * 7, duration=travel, time_windows=[[0, 100], [10, 20], [0, 5]],
                        service_time=[0, 2, 1])
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

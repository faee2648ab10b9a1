"""Validation: every bad input names the field and the offending index."""

import math

import numpy as np
import pytest

from nco import Instance, InstanceError, VehicleType


def square(size: int = 4) -> np.ndarray:
    matrix = np.arange(size * size, dtype=float).reshape(size, size) + 1
    np.fill_diagonal(matrix, 0)
    return matrix


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"distance": np.ones((3, 4))}, r"distance: expected a square"),
        ({"distance": [[0.0]]}, r"at least one customer"),
        ({"distance": np.where(np.eye(4, k=1, dtype=bool), np.nan, square())}, r"distance\[0, 1\] is not a number"),
        ({"distance": np.where(np.eye(4, k=-1, dtype=bool), -3.0, square())}, r"distance\[1, 0\] = -3.0 is negative"),
        ({"duration": np.ones((3, 3))}, r"duration: shape \(3, 3\) differs"),
        ({"demand": [0, 1, -2, 1], "capacity": 5}, r"demand\[2\] = -2.0 is negative"),
        ({"demand": [0, 1, 9, 1], "capacity": 5}, r"demand\[2\] = 9.0 exceeds every vehicle's capacity"),
        ({"demand": [3, 1, 1, 1], "capacity": 5}, r"demand\[0\] = 3.0: the depot"),
        ({"demand": [0, 1, 1]}, r"demand: expected shape \(4,\)"),
        ({"pickup": [0, 1, np.inf, 1]}, r"pickup\[2\] = inf is not finite"),
        ({"time_windows": [[0, 10], [5, 4], [0, 10], [0, 10]]}, r"time_windows\[1\] = \[5.0, 4.0\] is empty"),
        ({"service_time": [0, 1, 1, math.nan]}, r"service_time\[3\] = nan is not finite"),
        ({"capacity": 0}, r"capacity must be positive"),
        ({"num_vehicles": 0}, r"num_vehicles must be >= 1"),
        ({"fleet": (VehicleType(count=0),)}, r"fleet\[0\].count must be >= 1"),
        ({"fleet": (VehicleType(count=1, profile=2),)}, r"fleet\[0\].profile = 2 but only 1 profile"),
        ({"fleet": (VehicleType(1),), "capacity": 3}, r"either fleet or capacity"),
        ({"coordinates": np.zeros((4, 3))}, r"coordinates: expected shape \(4, 2\)"),
        ({"allowed": np.array([[True, True, False, True]])}, r"allowed\[:, 2\]: no vehicle type may serve node 2"),
        ({"preference": np.zeros((2, 4))}, r"preference: expected shape \(1, 4\)"),
        ({"max_route_duration": -1}, r"max_route_duration must be positive"),
    ],
)
def test_bad_input_names_field_and_index(changes: dict, message: str) -> None:
    arguments = {"distance": square(), "name": "toy"} | changes
    with pytest.raises(InstanceError, match=message) as error:
        Instance(**arguments)
    assert "instance 'toy'" in str(error.value)


def test_node_that_cannot_be_left_or_reached_is_rejected() -> None:
    matrix = square()
    matrix[2, [0, 1, 3]] = np.inf
    with pytest.raises(InstanceError, match=r"node 2 cannot be left: distance\[2, :\]"):
        Instance(distance=matrix)
    matrix = square()
    matrix[[0, 1, 2], 3] = np.inf
    with pytest.raises(InstanceError, match=r"node 3 cannot be reached: distance\[:, 3\]"):
        Instance(distance=matrix)


def test_single_forbidden_arc_is_allowed_and_arrays_are_read_only() -> None:
    matrix = square()
    matrix[1, 2] = np.inf
    instance = Instance(distance=matrix, demand=[0, 1, 2, 3], capacity=4)
    assert instance.num_customers == 3
    assert instance.is_asymmetric
    with pytest.raises(ValueError):
        instance.demand[1] = 5


def test_features_are_flags_derived_from_fields() -> None:
    plain = Instance(distance=square())
    assert not any(plain.features().values())
    rich = Instance(
        distance=np.stack([square(), square() * 2]),
        demand=[0, 1, 1, 1],
        pickup=[0, 0, 1, 0],
        backhaul_mode="strict",
        fleet=(VehicleType(2, capacity=3, fixed_cost=5, profile=1), VehicleType(1, capacity=2, unit_duration_cost=1)),
        time_windows=[[0, 100]] * 4,
        open_routes=True,
        allowed=[[True, True, False, True], [True, True, True, True]],
        preference=[[0, 1, 0, 0], [0, 0, 0, 0]],
    )
    flags = rich.features()
    expected_on = {
        "capacity",
        "time_windows",
        "backhaul",
        "strict_backhaul",
        "open_routes",
        "heterogeneous_fleet",
        "fixed_cost",
        "duration_cost",
        "multiple_profiles",
        "allowed",
        "preference",
    }
    assert {key for key, on in flags.items() if on} == expected_on
    assert rich.distance_matrix(1)[0, 1] == 2 * rich.distance_matrix(0)[0, 1]


def test_replace_revalidates() -> None:
    instance = Instance(distance=square(), demand=[0, 1, 2, 3], capacity=4)
    assert instance.replace(capacity=10).vehicle_types[0].capacity == 10
    with pytest.raises(InstanceError, match="exceeds every vehicle's capacity"):
        instance.replace(capacity=2)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_depots": 0}, r"num_depots must be >= 1"),
        ({"num_depots": 4}, r"need 4 depot\(s\)"),
        ({"num_depots": 2, "demand": [0, 3, 1, 1]}, r"demand\[1\] = 3.0: the depot \(node 1\)"),
        ({"prize": [0, 0, 5, 0]}, r"prize\[2\] = 5.0 but client 2 is required"),
        ({"prize": [1, 0, 5, 0], "required": [True, True, False, True]}, r"prize\[0\] = 1.0: the depot"),
        ({"required": [True, True, False]}, r"required: expected shape \(4,\)"),
        ({"fleet": (VehicleType(1, start_depot=1),)}, r"fleet\[0\].start_depot = 1 is not a depot \(valid: 0..0\)"),
        ({"fleet": (VehicleType(1, end_depot=-1),)}, r"fleet\[0\].end_depot = -1 is not a depot"),
        ({"fleet": (VehicleType(1, time_window=(5.0, 1.0)),)}, r"fleet\[0\].time_window = \[5.0, 1.0\] is empty"),
        ({"fleet": (VehicleType(1, time_window=(1.0,)),)}, r"fleet\[0\].time_window: expected a pair"),
        ({"fleet": (VehicleType(1, max_tasks=0),)}, r"fleet\[0\].max_tasks must be >= 1"),
        ({"fleet": (VehicleType(1, max_tasks=1.5),)}, r"fleet\[0\].max_tasks: expected an integer"),
        ({"fleet": (VehicleType(1, max_distance=-1.0),)}, r"fleet\[0\].max_distance must be a non-negative"),
    ],
)
def test_bad_depot_shift_and_prize_input_names_field_and_index(changes: dict, message: str) -> None:
    with pytest.raises(InstanceError, match=message):
        Instance(distance=square(), name="toy", **changes)


def test_open_routes_has_one_meaning() -> None:
    """``open_routes=True`` opens every vehicle type's end; a fleet whose every type ends open
    reads back as ``open_routes``; a mixed fleet is neither, and says so."""
    shorthand = Instance(distance=square(), fleet=(VehicleType(1), VehicleType(1, capacity=3)), open_routes=True)
    assert all(v.end_depot is None for v in shorthand.vehicle_types)
    spelled = Instance(distance=square(), fleet=(VehicleType(1, end_depot=None),))
    assert spelled.open_routes and spelled.features()["open_routes"]
    mixed = Instance(distance=square(), fleet=(VehicleType(1, end_depot=None), VehicleType(1)))
    assert not mixed.open_routes and mixed.features()["mixed_route_ends"]


def test_depots_are_not_clients() -> None:
    instance = Instance(
        distance=square(5),
        num_depots=2,
        allowed=[[False, False, True, True, True]],
        required=[True, True, False, True, True],
        prize=[0, 0, 2, 0, 0],
    )
    assert instance.num_customers == 3 and list(instance.clients) == [2, 3, 4]
    assert instance.features()["multiple_depots"] and instance.features()["optional_clients"]
    assert list(instance.is_required) == [True, True, False, True, True]

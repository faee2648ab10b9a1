"""Does a generated instance describe the same problem as an expected one?

Used by the task-set tests and ``benchmarks/llm.py`` to tell a right formulation from one that
merely runs. Absent optional fields compare equal to their neutral value (no demand = zeros,
no ``allowed`` = all allowed); matrices compare with a relative tolerance, since a model may
compute distances with other (equally valid) float rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nco_core.instance import Instance

__all__ = ["instance_differences"]


def _fields(instance: Instance) -> dict[str, Any]:
    n = instance.num_nodes
    types = instance.vehicle_types
    windows = instance.time_windows
    if windows is None:
        windows = np.tile([0.0, np.inf], (n, 1))
    allowed = instance.allowed if instance.allowed is not None else np.ones((len(types), n), dtype=bool)
    preference = instance.preference if instance.preference is not None else np.zeros((len(types), n))
    return {
        "distance": np.stack([instance.distance_matrix(v.profile) for v in types]),
        "duration": np.stack([instance.duration_matrix(v.profile) for v in types]),
        "demand": instance.delivery,
        "pickup": instance.backhaul,
        "service_time": instance.service,
        "time_windows": windows,
        "allowed": allowed,
        "preference": preference,
        "open_routes": instance.open_routes,
        "backhaul_mode": instance.backhaul_mode if instance.features()["backhaul"] else "mixed",
        "fleet": [
            (v.count, v.capacity, v.fixed_cost, v.max_duration, v.unit_distance_cost, v.unit_duration_cost)
            for v in types
        ],
    }


def instance_differences(actual: Instance, expected: Instance, rtol: float = 1e-3) -> list[str]:
    """What differs, field by field (empty when the two instances pose the same problem).

    Vehicle types are compared in order, with their matrices; a fleet that is unlimited in one
    instance and stated in the other is a difference.
    """
    if actual.num_nodes != expected.num_nodes:
        return [f"{actual.num_customers} customers instead of {expected.num_customers}"]
    if len(actual.vehicle_types) != len(expected.vehicle_types):
        return [f"{len(actual.vehicle_types)} vehicle types instead of {len(expected.vehicle_types)}"]
    mine, theirs = _fields(actual), _fields(expected)
    found = []
    for key, value in theirs.items():
        other = mine[key]
        if isinstance(value, np.ndarray):
            same = (
                np.array_equal(other, value) if value.dtype == bool else np.allclose(other, value, rtol=rtol, atol=1e-6)
            )
        elif key == "fleet":
            same = all(np.allclose(a, b, rtol=rtol) for a, b in zip(other, value, strict=True))
        else:
            same = other == value
        if not same:
            found.append(f"{key} differs")
    return found

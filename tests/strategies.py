"""Hypothesis strategies for small random instances of every variant, feasible by construction.

Every customer can always be served alone by a vehicle of some type (one such vehicle per
customer exists, its capacity covers the customer, its time window and duration limit leave
room for depot -> customer -> depot), so every generated instance has a feasible solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from nco_core.features import NAMES
from nco_core.instance import Instance, VehicleType


@dataclass(frozen=True)
class Variant:
    """Which features a generated instance uses, by their names in ``nco_core.features`` (the
    instance then uses exactly these), and two properties of the matrices that are geometry, not
    variant features: asymmetric travel and some forbidden (infinite) customer-to-customer arcs."""

    features: frozenset[str] = frozenset()
    asymmetric: bool = False
    forbidden_arcs: bool = False

    def __post_init__(self) -> None:
        unknown = self.features - set(NAMES)
        if unknown:
            raise ValueError(f"unknown feature(s) {sorted(unknown)}; nco_core.features.NAMES: {NAMES}")


def _variant(*features: str, **geometry: bool) -> Variant:
    return Variant(frozenset({"capacity", *features}), **geometry)  # every generated instance is capacitated


VARIANTS: dict[str, Variant] = {
    "cvrp": _variant(),
    "asymmetric": _variant(asymmetric=True, forbidden_arcs=True),
    "time_windows": _variant("time_windows", "service_time"),
    "open_routes": _variant("open_routes", "service_time"),
    "pickup_delivery": _variant("backhaul"),
    "strict_backhaul": _variant("backhaul", "strict_backhaul"),
    "heterogeneous": _variant("heterogeneous_fleet", "fixed_cost", "duration_cost", "service_time"),
    "profiles": _variant("heterogeneous_fleet", "fixed_cost", "multiple_profiles", asymmetric=True),
    "allowed": _variant("heterogeneous_fleet", "fixed_cost", "allowed"),
    "preference": _variant("heterogeneous_fleet", "fixed_cost", "preference", "allowed"),
    "max_duration": _variant("max_duration", "service_time"),
    "max_duration_open": _variant("max_duration", "open_routes"),
    "everything": _variant(
        "time_windows",
        "service_time",
        "backhaul",
        "heterogeneous_fleet",
        "fixed_cost",
        "duration_cost",
        "multiple_profiles",
        "allowed",
        "preference",
        asymmetric=True,
    ),
}


@st.composite
def instances(draw: st.DrawFn, variant: Variant, min_customers: int = 5, max_customers: int = 15) -> Instance:
    on = variant.features
    n = draw(st.integers(min_customers, max_customers))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    size = n + 1
    points = rng.uniform(0, 100, size=(size, 2))
    base = np.linalg.norm(points[:, None] - points[None], axis=-1)
    num_profiles = 2 if "multiple_profiles" in on else 1
    matrices = []
    for p in range(num_profiles):
        matrix = base * (1.0 + 0.5 * p)
        if variant.asymmetric:
            matrix = matrix * rng.uniform(1.0, 1.4, size=matrix.shape)
        np.fill_diagonal(matrix, 0.0)
        matrices.append(matrix)
    distance = np.stack(matrices) if "multiple_profiles" in on else matrices[0]
    if variant.forbidden_arcs:
        # forbid a few customer-to-customer arcs (never depot arcs: single-customer routes stay possible)
        for _ in range(n):
            i, j = rng.integers(1, size, size=2)
            if i != j:
                distance[..., i, j] = np.inf

    kinds = rng.integers(0, 2, size=size)  # strict backhaul: each customer is linehaul or backhaul
    kinds[rng.integers(1, size)] = 1  # at least one backhaul customer
    demand = rng.integers(1, 11, size=size).astype(float)
    pickup = rng.integers(0, 11, size=size).astype(float) if "backhaul" in on else None
    if pickup is not None:
        pickup[rng.integers(1, size)] = float(rng.integers(1, 11))  # at least one pickup
    if "strict_backhaul" in on:
        pickup = np.where(kinds == 1, demand, 0.0)
        demand = np.where(kinds == 1, 0.0, demand)
    demand[0] = 0.0
    if pickup is not None:
        pickup[0] = 0.0
    largest = max(demand.max(), 0.0 if pickup is None else pickup.max())
    capacity = float(rng.integers(int(largest), int(largest) + 25))

    service = np.where(np.arange(size) > 0, rng.uniform(0, 10, size=size), 0.0) if "service_time" in on else None
    stack = distance if distance.ndim == 3 else distance[None]
    slowest = stack.max(axis=0)  # the slowest profile's travel times bound every type's
    serve = np.zeros(size) if service is None else service
    alone = slowest[0, :] + serve + (0.0 if "open_routes" in on else slowest[:, 0])  # depot -> i (-> depot)

    windows = None
    if "time_windows" in on:
        early = rng.uniform(0, 150, size=size)
        arrival = np.maximum(early, slowest[0, :])
        late = arrival + rng.uniform(5, 60, size=size)
        finish = arrival + serve + (0.0 if "open_routes" in on else slowest[:, 0])
        windows = np.stack([early, late], axis=1)
        windows[0] = [0.0, float(finish[1:].max()) + rng.uniform(0, 50)]
    max_duration = float(alone[1:].max() * rng.uniform(1.0, 2.5)) if "max_duration" in on else None

    allowed = None
    if "heterogeneous_fleet" in on:
        k = 3 if "multiple_profiles" in on or "allowed" in on else 2
        fleet = tuple(
            VehicleType(
                count=n,
                capacity=capacity * (1.0 + 0.5 * t),
                fixed_cost=float(rng.uniform(1, 50)) if "fixed_cost" in on else 0.0,
                profile=t % num_profiles,
                max_duration=np.inf if max_duration is None else max_duration,
                unit_distance_cost=float(rng.choice([0.5, 1.0, 1.5])),
                unit_duration_cost=float(rng.choice([0.25, 1.0] if t == 0 else [0.0, 0.25, 1.0]))
                if "duration_cost" in on
                else 0.0,
            )
            for t in range(k)
        )
        if "allowed" in on:
            allowed = rng.random((k, size)) < 0.6
            allowed[rng.integers(0, k, size=size), np.arange(size)] = True
            allowed[:2, 1] = [False, True]  # some pair is forbidden, and node 1 still has a type
        fleet_kwargs: dict = {"fleet": fleet}
    else:
        fleet_kwargs = {"capacity": capacity, "max_route_duration": max_duration}
    preference = rng.uniform(0, 20, size=(len(fleet_kwargs.get("fleet", [0])), size)) if "preference" in on else None

    return Instance(
        distance=distance,
        coordinates=points,
        demand=demand,
        pickup=pickup,
        time_windows=windows,
        service_time=service,
        open_routes="open_routes" in on,
        backhaul_mode="strict" if "strict_backhaul" in on else "mixed",
        allowed=allowed,
        preference=preference,
        name=f"random-{seed}",
        **fleet_kwargs,
    )

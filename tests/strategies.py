"""Hypothesis strategies for small random instances of every variant, feasible by construction.

Every customer can always be served alone by a vehicle of some type (one such vehicle per
customer exists, its capacity covers the customer, its time window and duration limit leave
room for depot -> customer -> depot), so every generated instance has a feasible solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from nco_core.instance import Instance, VehicleType


@dataclass(frozen=True)
class Variant:
    """Which features a generated instance uses (data, not problem names)."""

    asymmetric: bool = False
    forbidden_arcs: bool = False
    time_windows: bool = False
    service_time: bool = False
    max_duration: bool = False
    open_routes: bool = False
    pickup: bool = False
    strict_backhaul: bool = False
    heterogeneous: bool = False
    duration_cost: bool = False
    profiles: bool = False
    allowed: bool = False
    preference: bool = False


VARIANTS: dict[str, Variant] = {
    "cvrp": Variant(),
    "asymmetric": Variant(asymmetric=True, forbidden_arcs=True),
    "time_windows": Variant(time_windows=True, service_time=True),
    "open_routes": Variant(open_routes=True, service_time=True),
    "pickup_delivery": Variant(pickup=True),
    "strict_backhaul": Variant(pickup=True, strict_backhaul=True),
    "heterogeneous": Variant(heterogeneous=True, duration_cost=True, service_time=True),
    "profiles": Variant(heterogeneous=True, profiles=True, asymmetric=True),
    "allowed": Variant(heterogeneous=True, allowed=True),
    "preference": Variant(heterogeneous=True, preference=True, allowed=True),
    "max_duration": Variant(max_duration=True, service_time=True),
    "max_duration_open": Variant(max_duration=True, open_routes=True),
    "everything": Variant(
        asymmetric=True,
        time_windows=True,
        service_time=True,
        pickup=True,
        heterogeneous=True,
        duration_cost=True,
        profiles=True,
        allowed=True,
        preference=True,
    ),
}


@st.composite
def instances(draw: st.DrawFn, variant: Variant, min_customers: int = 5, max_customers: int = 15) -> Instance:
    n = draw(st.integers(min_customers, max_customers))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    size = n + 1
    points = rng.uniform(0, 100, size=(size, 2))
    base = np.linalg.norm(points[:, None] - points[None], axis=-1)
    num_profiles = 2 if variant.profiles else 1
    matrices = []
    for p in range(num_profiles):
        matrix = base * (1.0 + 0.5 * p)
        if variant.asymmetric:
            matrix = matrix * rng.uniform(1.0, 1.4, size=matrix.shape)
        np.fill_diagonal(matrix, 0.0)
        matrices.append(matrix)
    distance = np.stack(matrices) if variant.profiles else matrices[0]
    if variant.forbidden_arcs:
        # forbid a few customer-to-customer arcs (never depot arcs: single-customer routes stay possible)
        for _ in range(n):
            i, j = rng.integers(1, size, size=2)
            if i != j:
                distance[..., i, j] = np.inf

    kinds = rng.integers(0, 2, size=size)  # strict backhaul: each customer is linehaul or backhaul
    demand = rng.integers(1, 11, size=size).astype(float)
    pickup = rng.integers(0, 11, size=size).astype(float) if variant.pickup else None
    if variant.strict_backhaul:
        pickup = np.where(kinds == 1, demand, 0.0)
        demand = np.where(kinds == 1, 0.0, demand)
    demand[0] = 0.0
    if pickup is not None:
        pickup[0] = 0.0
    largest = max(demand.max(), 0.0 if pickup is None else pickup.max())
    capacity = float(rng.integers(int(largest), int(largest) + 25))

    service = np.where(np.arange(size) > 0, rng.uniform(0, 10, size=size), 0.0) if variant.service_time else None
    stack = distance if distance.ndim == 3 else distance[None]
    slowest = stack.max(axis=0)  # the slowest profile's travel times bound every type's
    serve = np.zeros(size) if service is None else service
    alone = slowest[0, :] + serve + (0.0 if variant.open_routes else slowest[:, 0])  # depot -> i (-> depot)

    windows = None
    if variant.time_windows:
        early = rng.uniform(0, 150, size=size)
        arrival = np.maximum(early, slowest[0, :])
        late = arrival + rng.uniform(5, 60, size=size)
        finish = arrival + serve + (0.0 if variant.open_routes else slowest[:, 0])
        windows = np.stack([early, late], axis=1)
        windows[0] = [0.0, float(finish[1:].max()) + rng.uniform(0, 50)]
    max_duration = float(alone[1:].max() * rng.uniform(1.0, 2.5)) if variant.max_duration else None

    allowed = None
    if variant.heterogeneous:
        k = 3 if variant.profiles or variant.allowed else 2
        fleet = tuple(
            VehicleType(
                count=n,
                capacity=capacity * (1.0 + 0.5 * t),
                fixed_cost=float(rng.uniform(0, 50)),
                profile=t % num_profiles,
                max_duration=np.inf if max_duration is None else max_duration,
                unit_distance_cost=float(rng.choice([0.5, 1.0, 1.5])),
                unit_duration_cost=float(rng.choice([0.0, 0.25, 1.0])) if variant.duration_cost else 0.0,
            )
            for t in range(k)
        )
        if variant.allowed:
            allowed = rng.random((k, size)) < 0.6
            allowed[rng.integers(0, k, size=size), np.arange(size)] = True
        fleet_kwargs: dict = {"fleet": fleet}
    else:
        fleet_kwargs = {"capacity": capacity, "max_route_duration": max_duration}
    preference = rng.uniform(0, 20, size=(len(fleet_kwargs.get("fleet", [0])), size)) if variant.preference else None

    return Instance(
        distance=distance,
        coordinates=points,
        demand=demand,
        pickup=pickup,
        time_windows=windows,
        service_time=service,
        open_routes=variant.open_routes,
        backhaul_mode="strict" if variant.strict_backhaul else "mixed",
        allowed=allowed,
        preference=preference,
        name=f"random-{seed}",
        **fleet_kwargs,
    )

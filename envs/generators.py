"""Vectorised instance generators: B instances of N customers as stacked numpy arrays.

Locations come from the unit square (Euclidean matrices, duration = distance) or from a real
``City`` pool (road km and minutes). Variant attributes follow RouteFinder / POMO / RRNCO and are
drawn per instance from the ``Variant`` flags, so one batch may mix variants. Every generated
instance is feasible: each customer can be served on its own by some vehicle (for the one-vehicle
TSP, any tour is feasible).

Formulas (``d`` = duration matrix of profile 0, ``unit = max_i (d[0,i] + d[i,0]) / (2 sqrt 2)``,
so that ``unit = 1`` for a depot in a corner of the unit square; RouteFinder's constants are in
units of ``unit``):

* demand: integers U{1..9}; capacity by N from ``CAPACITY_BY_SIZE`` (POMO/RouteFinder: 20->30,
  50->40, 100->50, 200->70, linear in between, constant beyond the table);
* backhaul: each customer of a backhaul instance is a pickup with probability 0.2 (its demand
  moves to ``pickup``), at least one per instance;
* time windows: service ``s_i ~ U(0.15, 0.18) unit``, width ``w_i ~ U(0.18, 0.2) unit``, horizon
  ``H = 4.6 unit`` (depot window ``[0, H]``), start ``a_i ~ U[d(0,i), H - d(i,0) - s_i - w_i]``, window
  ``[a_i, a_i + w_i]``; the interval is never empty since ``d(0,i) + d(i,0) <= 2 sqrt 2 unit``;
* max route duration: ``L = max(3 unit, 1.01 max_i (d(0,i) + s_i + d(i,0)))``;
* with several profiles, ``d`` above is the elementwise slowest profile, so windows and limits
  hold for every vehicle type;
* profiled VRP (CAMP): profile ``p`` drives on ``f_p * d * e`` with a speed factor
  ``f_p ~ U(0.8, 1.2)`` and per-arc noise ``e ~ U(0.95, 1.05)`` (distance likewise), one vehicle
  type per profile with unit duration cost and no distance cost, ``preference ~ U(0, 0.2 unit)``,
  and each (type, customer) pair forbidden with probability 0.2 unless that would leave the
  customer with no type, in which case one random type is allowed;
* CAMP's ``pvrp-p`` / ``pvrp-zc`` (3-5 types, regional preferences or zones, capacities
  spread around the preset's): ``envs/profiles.py``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from envs.batch import InstanceBatch, unpack
from envs.cities import load_city
from envs.city import City
from envs.presets import Variant, variant
from envs.profiles import camp_profiles
from nco_core.instance import Instance

__all__ = ["CAPACITY_BY_SIZE", "GENERATOR_VERSION", "InstanceBatch", "generate", "sample_instance", "to_instances"]

Distribution = Literal["uniform", "cluster", "mixed"]

# Bump whenever a change makes the same (problem, size, city, seed) generate a different instance:
# stored labels (nco.training.labels) name instances by seed and refuse another version.
GENERATOR_VERSION = 1
CAPACITY_BY_SIZE = {10: 20, 15: 25, 20: 30, 30: 33, 40: 37, 50: 40, 60: 43, 75: 45, 100: 50, 125: 55, 150: 60, 200: 70,
                    500: 100, 1000: 150}  # fmt: skip
BACKHAUL_SHARE = 0.2
FORBID_SHARE = 0.2


def capacity_for(num_customers: int) -> float:
    """Vehicle capacity for N customers, interpolated in ``CAPACITY_BY_SIZE``."""
    sizes = np.array(sorted(CAPACITY_BY_SIZE))
    return float(np.interp(num_customers, sizes, [CAPACITY_BY_SIZE[s] for s in sizes]))


# ---------------------------------------------------------------------------------------------
# Locations


def _synthetic_coordinates(rng: np.random.Generator, batch: int, n: int, distribution: Distribution) -> np.ndarray:
    """Uniform points, or a Gaussian mixture (3-8 centres in [0.2, 0.8]^2, sigma 0.07, clipped)."""
    uniform = rng.random((batch, n, 2))
    centres = rng.uniform(0.2, 0.8, (batch, 8, 2))
    num_centres = rng.integers(3, 9, (batch, 1))
    which = (rng.random((batch, n)) * num_centres).astype(np.int64)
    clustered = np.clip(
        np.take_along_axis(centres, which[..., None], axis=1) + rng.normal(0, 0.07, (batch, n, 2)), 0, 1
    )
    if distribution == "uniform":
        return uniform
    if distribution == "cluster":
        return clustered
    if distribution == "mixed":
        return np.where((rng.random((batch, n)) < 0.5)[..., None], uniform, clustered)
    raise ValueError(f"distribution: expected 'uniform', 'cluster' or 'mixed', got {distribution!r}")


def _sample_pool(rng: np.random.Generator, city: City, batch: int, n: int, distribution: Distribution) -> np.ndarray:
    """(B, n) distinct pool indices by Gumbel-top-k (sampling without replacement ~ weights).

    cluster: weights ``sum_c exp(-D[c_j, i] / sigma)`` around 3-8 random centre points ``c_j`` by
    road distance ``D``, ``sigma`` = 10% of the pool's median distance; mixed: the average of the
    uniform and the cluster weights (about half the points from each).
    """
    if city.size < n:
        raise ValueError(f"city {city.name!r}: pool has {city.size} points, need {n} distinct ones")
    if distribution not in ("uniform", "cluster", "mixed"):
        raise ValueError(f"distribution: expected 'uniform', 'cluster' or 'mixed', got {distribution!r}")
    log_weight = np.zeros((batch, city.size))
    if distribution != "uniform":
        finite = city.distance[np.isfinite(city.distance)]
        sigma = 0.1 * float(np.median(finite)) or 1.0
        centres = rng.integers(0, city.size, (batch, 8))
        active = np.arange(8) < rng.integers(3, 9, (batch, 1))
        near = np.exp(-np.minimum(city.distance[centres], 1e12) / sigma) * active[..., None]  # (B, 8, M)
        cluster = near.sum(axis=1)
        cluster /= cluster.sum(axis=1, keepdims=True)
        weight = cluster if distribution == "cluster" else 0.5 * cluster + 0.5 / city.size
        log_weight = np.log(np.maximum(weight, 1e-300))
    keys = log_weight + rng.gumbel(size=(batch, city.size))
    top = np.argpartition(-keys, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


# ---------------------------------------------------------------------------------------------


def generate(
    problem: str | Variant,
    batch_size: int,
    num_customers: int,
    *,
    city: City | str | None = None,
    distribution: Distribution = "uniform",
    seed: int | np.random.Generator = 0,
    **flags: float,
) -> InstanceBatch:
    """B random instances of ``problem`` (a preset name or a Variant, flags overriding it)."""
    spec = variant(problem, **flags)
    rng = np.random.default_rng(seed)
    B, N, n = batch_size, num_customers, num_customers + 1
    if B < 1 or N < 1:
        raise ValueError(f"need batch_size >= 1 and num_customers >= 1, got {B} and {N}")
    if isinstance(city, str):
        city = load_city(city)
    if city is None:
        coordinates = _synthetic_coordinates(rng, B, n, distribution)
        distance = np.linalg.norm(coordinates[:, :, None] - coordinates[:, None], axis=-1)
        duration = distance
        latlon = np.zeros(B, bool)
    else:
        index = _sample_pool(rng, city, B, n, distribution)
        distance = city.distance[index[:, :, None], index[:, None, :]]
        duration = city.duration[index[:, :, None], index[:, None, :]]
        coordinates = city.points[index]
        latlon = np.ones(B, bool)

    K = max(spec.num_profiles, 1)
    if spec.num_profiles:
        factor = rng.uniform(0.8, 1.2, (B, K, 1, 1))
        distance = distance[:, None] * factor * rng.uniform(0.95, 1.05, (B, K, n, n))
        duration = duration[:, None] * factor * rng.uniform(0.95, 1.05, (B, K, n, n))
        for matrix in (distance, duration):
            matrix[:, :, np.arange(n), np.arange(n)] = 0.0
        allowed = rng.random((B, K, n)) >= FORBID_SHARE
        allowed[:, :, 0] = True
        orphan = np.asarray(~allowed.any(axis=1))  # (B, n)
        rescue = np.zeros((B, K, n), bool)
        rescue[np.arange(B)[:, None], rng.integers(0, K, (B, n)), np.arange(n)[None]] = True
        allowed |= orphan[:, None] & rescue
    else:
        distance, duration = distance[:, None], duration[:, None]
        allowed = np.ones((B, 1, n), bool)
    # Windows and limits are built on the slowest profile, so every vehicle meets them alone.
    slowest = duration.max(axis=1) if K > 1 else duration[:, 0]

    draw = lambda p: rng.random(B) < p  # noqa: E731
    capacitated, timed, open_, limited = (
        draw(spec.capacity),
        draw(spec.time_windows),
        draw(spec.open_routes),
        draw(spec.max_duration),
    )
    backhauled = draw(spec.backhaul) & capacitated
    strict = draw(spec.strict_backhaul) & backhauled

    depot_trips = slowest[:, 0, 1:] + slowest[:, 1:, 0]  # (B, N)
    unit = depot_trips.max(axis=1) / (2 * math.sqrt(2))

    demand = np.zeros((B, n))
    pickup = np.zeros((B, n))
    quantities = rng.integers(1, 10, (B, N)).astype(np.float64)
    is_pickup = rng.random((B, N)) < BACKHAUL_SHARE
    is_pickup[np.arange(B), rng.integers(0, N, B)] = True  # at least one backhaul customer
    is_pickup &= backhauled[:, None]
    demand[:, 1:] = np.where(capacitated[:, None] & ~is_pickup, quantities, 0.0)
    pickup[:, 1:] = np.where(is_pickup, quantities, 0.0)

    service = np.zeros((B, n))
    windows = np.zeros((B, n, 2))
    windows[..., 1] = np.inf
    s = rng.uniform(0.15, 0.18, (B, N)) * unit[:, None]
    w = rng.uniform(0.18, 0.2, (B, N)) * unit[:, None]
    horizon = 4.6 * unit
    low = slowest[:, 0, 1:]
    high = horizon[:, None] - slowest[:, 1:, 0] - s - w
    start = low + rng.random((B, N)) * (high - low)
    service[:, 1:] = np.where(timed[:, None], s, 0.0)
    windows[:, 0, 1] = np.where(timed, horizon, np.inf)
    windows[:, 1:, 0] = np.where(timed[:, None], start, 0.0)
    windows[:, 1:, 1] = np.where(timed[:, None], start + w, np.inf)
    max_duration = np.maximum(3 * unit, 1.01 * (depot_trips + service[:, 1:]).max(axis=1))
    preference = np.zeros((B, K, n))
    preference[:, :, 1:] = np.where(spec.num_profiles > 0, rng.uniform(0, 0.2, (B, K, N)) * unit[:, None, None], 0.0)

    count = spec.fleet_size or N
    ones = np.ones((B, K))
    vehicle_count = np.full((B, K), count, np.int64)
    vehicle_capacity = np.where(capacitated[:, None], capacity_for(N), np.inf) * ones
    if spec.num_profiles and (spec.zones or spec.preferences or spec.min_profiles):
        # CAMP's variants, drawn last so that the other presets' random streams are unchanged
        camp = camp_profiles(
            rng, num_profiles=spec.num_profiles, min_profiles=spec.min_profiles, zones=spec.zones,
            preferences=spec.preferences, preference_weight=spec.preference_weight, coordinates=coordinates,
            latlon=latlon, duration=duration, demand=demand, capacity=capacity_for(N), unit=unit,
        )  # fmt: skip
        allowed, preference = camp.allowed, camp.preference
        vehicle_count = np.where(np.arange(K) < camp.num_types[:, None], vehicle_count, 0)
        vehicle_capacity = np.where(capacitated[:, None], camp.capacity, np.inf)
    return InstanceBatch(
        distance=distance,
        duration=duration,
        coordinates=coordinates,
        has_coordinates=np.ones(B, bool),
        latlon=latlon,
        demand=demand,
        pickup=pickup,
        time_windows=windows,
        has_time_windows=timed,
        service_time=service,
        open_routes=open_,
        strict_backhaul=strict,
        vehicle_count=vehicle_count,
        vehicle_capacity=vehicle_capacity,
        vehicle_profile=np.broadcast_to(np.arange(K), (B, K)).copy(),
        vehicle_max_duration=np.where(limited, max_duration, np.inf)[:, None] * ones,
        vehicle_fixed_cost=0.0 * ones,
        vehicle_unit_distance_cost=(0.0 if spec.num_profiles else 1.0) * ones,
        vehicle_unit_duration_cost=(1.0 if spec.num_profiles else 0.0) * ones,
        allowed=allowed,
        preference=preference,
        has_profiles=np.full(B, spec.num_profiles > 0),
    )


def to_instances(batch: InstanceBatch, name: str = "generated") -> list[Instance]:
    """One validated ``Instance`` per row (through ``envs.batch.CROSSINGS``); the evaluator then
    scores env rollouts on them."""
    return unpack(batch, name)


def sample_instance(
    problem: str | Variant,
    n: int,
    city: City | str | None = None,
    seed: int = 0,
    distribution: Distribution = "uniform",
    **flags: float,
) -> Instance:
    """One random instance of ``problem`` with ``n`` customers."""
    batch = generate(problem, 1, n, city=city, distribution=distribution, seed=seed, **flags)
    name = problem if isinstance(problem, str) else "instance"
    return to_instances(batch, name=f"{name}{n}-s{seed}")[0]

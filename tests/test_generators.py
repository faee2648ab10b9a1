"""Generators: shapes, documented distributions, and every instance valid and feasible."""

from __future__ import annotations

import numpy as np
import pytest

from envs.city import City
from envs.generators import capacity_for, generate, sample_instance, to_instances
from envs.presets import PRESETS
from nco_core.evaluate import evaluate


def small_city(size: int = 60, seed: int = 0) -> City:
    """A synthetic pool with asymmetric 'road' matrices (detour factors) standing in for OSRM."""
    rng = np.random.default_rng(seed)
    points = np.column_stack([48.1 + 0.1 * rng.random(size), 11.5 + 0.1 * rng.random(size)])
    km = np.linalg.norm((points[:, None] - points[None]) * [111.0, 74.0], axis=-1)
    distance = km * rng.uniform(1.1, 1.6, (size, size))
    np.fill_diagonal(distance, 0.0)
    duration = distance / rng.uniform(0.3, 0.8, (size, size)) + 0.5 * (distance > 0)
    return City("testville", points, distance, duration)


def single_solution(instance) -> tuple[list[list[int]], list[int] | None]:
    """One customer per route on a type allowed to serve it, or one tour for a one-vehicle fleet."""
    customers = list(range(1, instance.num_nodes))
    types = instance.vehicle_types
    if sum(v.count for v in types) < instance.num_customers:
        return [customers], [0]
    allowed = instance.allowed if instance.allowed is not None else np.ones((len(types), instance.num_nodes), bool)
    return [[i] for i in customers], [int(np.flatnonzero(allowed[:, i])[0]) for i in customers]


@pytest.mark.parametrize("problem", sorted(PRESETS))
@pytest.mark.parametrize("source", ["synthetic", "city"])
def test_every_preset_is_valid_and_feasible(problem: str, source: str) -> None:
    city = small_city() if source == "city" else None
    for distribution in ("uniform", "cluster", "mixed"):
        batch = generate(problem, 6, 12, city=city, distribution=distribution, seed=1)
        assert batch.distance.shape[0] == 6 and batch.num_nodes == 13
        for instance in to_instances(batch):
            routes, types = single_solution(instance)
            evaluation = evaluate(instance, routes, types)
            assert evaluation.feasible, (problem, source, distribution, evaluation.violations[:3])


def test_documented_quantities() -> None:
    batch = generate("vrpmbtw", 50, 20, seed=2)
    quantities = batch.demand[:, 1:] + batch.pickup[:, 1:]
    assert set(np.unique(quantities)) <= set(range(1, 10))
    assert not ((batch.demand > 0) & (batch.pickup > 0)).any()
    share = (batch.pickup[:, 1:] > 0).mean()
    assert 0.12 < share < 0.3
    assert np.all(batch.vehicle_capacity == 30)
    windows = batch.time_windows
    assert np.all(windows[:, 1:, 0] >= batch.duration[:, 0, 0, 1:])
    assert np.all(windows[:, 1:, 1] > windows[:, 1:, 0])
    assert capacity_for(50) == 40 and capacity_for(100) == 50 and capacity_for(200) == 70
    assert capacity_for(20) < capacity_for(25) < capacity_for(30)


def test_flags_mix_per_instance() -> None:
    batch = generate("mtvrp", 400, 10, seed=3)
    for flag in (batch.has_time_windows, batch.open_routes, np.isfinite(batch.vehicle_max_duration[:, 0])):
        assert 0.35 < flag.mean() < 0.65
    assert (batch.pickup.any(1)).mean() > 0.35
    assert not (batch.strict_backhaul & ~batch.pickup.any(1)).any()


def test_city_sampling_distinct_points_and_real_matrices() -> None:
    city = small_city(size=40)
    batch = generate("acvrptw", 20, 30, city=city, distribution="cluster", seed=4)
    points = batch.coordinates.reshape(-1, 2)
    lookup = {tuple(p): i for i, p in enumerate(city.points)}
    for b in range(20):
        index = np.array([lookup[tuple(p)] for p in batch.coordinates[b]])
        assert len(set(index)) == 31
        np.testing.assert_array_equal(batch.distance[b, 0], city.distance[np.ix_(index, index)])
        np.testing.assert_array_equal(batch.duration[b, 0], city.duration[np.ix_(index, index)])
    assert points.shape == (20 * 31, 2)
    with pytest.raises(ValueError, match="need 41 distinct"):
        generate("acvrp", 2, 40, city=city)


def test_clustered_city_points_have_closer_neighbours() -> None:
    city = small_city(size=400, seed=5)
    nearest = {}
    for d in ("uniform", "cluster", "mixed"):
        matrix = generate("acvrp", 30, 20, city=city, distribution=d, seed=5).distance[:, 0].copy()
        matrix[:, np.arange(21), np.arange(21)] = np.inf
        nearest[d] = matrix.min(-1).mean()
    assert nearest["cluster"] < nearest["mixed"] < nearest["uniform"]
    assert nearest["cluster"] < 0.7 * nearest["uniform"]


def test_profiled_instances() -> None:
    instance = sample_instance("pvrp", 15, seed=7)
    assert instance.num_profiles == 3 and len(instance.vehicle_types) == 3
    assert instance.allowed[:, 1:].any(0).all() and not instance.allowed.all()
    assert all(v.unit_duration_cost == 1 and v.unit_distance_cost == 0 for v in instance.vehicle_types)
    routes, types = single_solution(instance)
    evaluation = evaluate(instance, routes, types)
    assert evaluation.feasible
    assert evaluation.cost == pytest.approx(
        evaluation.duration - sum(instance.preference[k, r[0]] for r, k in zip(routes, types, strict=True))
    )


def test_sample_instance_by_flags_and_errors() -> None:
    instance = sample_instance("acvrp", 10, seed=0, time_windows=1.0, city=small_city())
    assert instance.features()["time_windows"] and instance.coordinate_system == "latlon"
    assert instance.is_asymmetric
    with pytest.raises(ValueError, match="unknown problem 'cvrpx'"):
        sample_instance("cvrpx", 10)
    with pytest.raises(ValueError, match="probability"):
        sample_instance("acvrp", 10, time_windows=2.0)
    with pytest.raises(ValueError, match="distribution"):
        generate("acvrp", 2, 5, distribution="ring")  # type: ignore[arg-type]

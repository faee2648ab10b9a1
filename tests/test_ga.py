"""The genetic refiner improves a poor initial population and returns evaluator-feasible routes."""

import numpy as np
import pytest

import nco
from solvers.ga import refine


def poor_population(instance: nco.Instance, size: int, seed: int) -> list[nco.Solution]:
    """Random customer orders cut into routes whenever the next one would overflow the vehicle."""
    rng = np.random.default_rng(seed)
    population = []
    for _ in range(size):
        routes, load = [[]], 0.0
        for node in rng.permutation(np.arange(1, instance.num_nodes)):
            if load + instance.demand[node] > instance.capacity:
                routes.append([])
                load = 0.0
            routes[-1].append(int(node))
            load += instance.demand[node]
        population.append(nco.Solution.of(instance, routes))
    return population


@pytest.mark.parametrize("time_windows", [False, True])
def test_refine_improves_on_its_population(time_windows: bool) -> None:
    rng = np.random.default_rng(7)
    size = 31
    xy = rng.uniform(0, 100, size=(size, 2))
    distance = np.linalg.norm(xy[:, None] - xy[None], axis=-1) * rng.uniform(1.0, 1.3, size=(size, size))
    np.fill_diagonal(distance, 0)
    extra = {}
    if time_windows:  # wide windows around the direct arrival time keep singletons feasible
        horizon = 10 * distance.max()
        windows = np.column_stack([np.zeros(size), np.full(size, horizon)])
        windows[1:, 0] = rng.uniform(0, horizon / 2, size - 1)
        windows[1:, 1] = windows[1:, 0] + horizon / 2
        extra = {"time_windows": windows, "service_time": np.r_[0, np.full(size - 1, 5.0)]}
    demand = np.r_[0, rng.integers(1, 10, size - 1)]
    instance = nco.Instance(distance=distance, demand=demand, capacity=40, **extra)
    population = poor_population(instance, 6, seed=1)
    start = min(s.cost for s in population if s.feasible)
    solution, info = refine(instance, population, time_limit=0.5, seed=0)
    assert solution is not None and solution.feasible, solution and solution.violations
    assert sorted(node for route in solution.routes for node in route) == list(range(1, size))
    assert solution.cost < start
    assert info["generations"] > 0

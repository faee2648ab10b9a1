"""The savings construction: feasible routes on real-city instances, the textbook joins on a tiny one."""

from __future__ import annotations

import numpy as np
import pytest

import nco
from solvers.savings import SUPPORTED, classical_savings, savings_routes


def all_arcs(instance: nco.Instance) -> tuple[np.ndarray, np.ndarray]:
    clients = np.arange(1, instance.num_nodes)
    tails, heads = np.meshgrid(clients, clients, indexing="ij")
    keep = tails != heads
    return tails[keep], heads[keep]


@pytest.mark.parametrize("problem", ["acvrp", "acvrptw"])
def test_routes_are_feasible_for_any_arc_scores(problem: str) -> None:
    instance = nco.sample_instance(problem, 60, city="oslo", seed=4)
    assert set(k for k, used in instance.features().items() if used) <= SUPPORTED
    tails, heads = all_arcs(instance)
    rng = np.random.default_rng(0)
    for scores in (classical_savings(instance, tails, heads), rng.random(tails.size)):
        routes = savings_routes(instance, tails, heads, scores)
        solution = nco.Solution.of(instance, routes)
        assert solution.feasible, solution.violations[:3]
        assert sorted(c for route in routes for c in route) == list(range(1, instance.num_nodes))
    singles = nco.Solution.of(instance, [[c] for c in range(1, instance.num_nodes)])
    joined = nco.Solution.of(
        instance, savings_routes(instance, tails, heads, classical_savings(instance, tails, heads))
    )
    assert joined.num_routes < singles.num_routes and joined.cost < singles.cost


def test_joins_follow_the_scores_and_respect_capacity_and_windows() -> None:
    # depot 0 and clients 1..3 on a line; 1 -> 2 -> 3 saves the most, but a vehicle carries two
    position = np.array([0.0, 10.0, 11.0, 12.0])
    distance = np.abs(position[:, None] - position[None, :])
    instance = nco.Instance(distance=distance, demand=[0, 1, 1, 1], capacity=2)
    tails, heads = all_arcs(instance)
    routes = savings_routes(instance, tails, heads, classical_savings(instance, tails, heads))
    assert sorted(map(len, routes)) == [1, 2]
    # with windows that force 3 before 2, the arc 2 -> 3 must not be used
    windows = np.array([[0, 100], [0, 100], [40, 100], [0, 15]], dtype=float)
    timed = nco.Instance(distance=distance, demand=[0, 1, 1, 1], capacity=3, time_windows=windows)
    routes = savings_routes(timed, tails, heads, classical_savings(timed, tails, heads))
    assert nco.Solution.of(timed, routes).feasible
    assert not any(a == 2 and b == 3 for route in routes for a, b in zip(route, route[1:], strict=False))


def test_one_compiled_kernel_serves_every_instance() -> None:
    # a second signature would mean a numba compile inside some call's budget
    from solvers.savings import _join

    windows = nco.sample_instance("acvrptw", 30, city="oslo", seed=1)
    plain = nco.sample_instance("acvrp", 30, city="oslo", seed=1)
    by_hand = nco.Instance(distance=np.array([[0, 1, 2], [1, 0, 1], [2, 1, 0]]), demand=[0, 1, 1], capacity=2)
    for instance in (windows, plain, by_hand):
        tails, heads = all_arcs(instance)
        savings_routes(instance, tails, heads, classical_savings(instance, tails, heads))
    assert len(_join.signatures) == 1

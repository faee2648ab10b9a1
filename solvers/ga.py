"""A hybrid genetic search seeded with neural solutions (the EARLI recipe).

The initial population is K diverse solutions from the learned policy, so the search starts where
the network is already good instead of from random tours. Each generation picks two parents by
binary tournament on a biased fitness (cost rank plus diversity rank, as in HGS), recombines their
route sets, and improves the child with PyVRP's ``LocalSearch`` under PyVRP's penalty manager.
The population is trimmed back to ``mu`` by removing the worst biased fitness, so near-duplicates of
good solutions give way to different ones.

The model PyVRP searches is the one :mod:`solvers.pyvrp_solver` builds; the final answer is scored by
nco's evaluator like every other method's.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyvrp

from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.budget import Deadline, check_seed, finish_reserve
from solvers.pyvrp_solver import build_data, routes_of, search_components, solver_params
from solvers.scaling import integer_data

__all__ = ["GeneticSearch", "refine"]


@dataclass
class _Member:
    solution: pyvrp.Solution
    successor: np.ndarray  # successor[i] of each client location (0 = depot), for diversity
    predecessor: np.ndarray


class GeneticSearch:
    """Population-based search over PyVRP solutions; ``run`` returns the best feasible one found."""

    def __init__(self, instance: Instance, *, seed: int, mu: int = 12, elite: int = 4, close: int = 3) -> None:
        self.instance = instance
        self.scaled = integer_data(instance)
        self.data = build_data(instance, self.scaled)
        self.rng = np.random.default_rng(seed)
        self.search, self.penalties, self.pyvrp_rng = search_components(self.data, solver_params(self.scaled), seed)
        self.mu, self.elite, self.close = mu, elite, close
        self.population: list[_Member] = []
        self.best: pyvrp.Solution | None = None
        self.generations = 0

    # -- conversion -------------------------------------------------------------------------
    def to_pyvrp(self, routes: Sequence[Sequence[int]], types: Sequence[int]) -> pyvrp.Solution:
        """nco routes (customer node ids) to a PyVRP solution, merging routes a fleet cannot staff."""
        available = [vehicle.count for vehicle in self.instance.vehicle_types]
        kept: list[tuple[list[int], int]] = []
        for route, k in sorted(zip(routes, types), key=lambda item: -len(item[0])):
            if not route:
                continue
            if available[k] > 0:
                available[k] -= 1
                kept.append((list(route), k))
            else:  # no vehicle left of this type: append to the shortest route (local search repairs)
                shortest = min(range(len(kept)), key=lambda i: len(kept[i][0]))
                kept[shortest][0].extend(route)
        pyvrp_routes = [pyvrp.Route(self.data, [node - 1 for node in route], k) for route, k in kept]
        return pyvrp.Solution(self.data, pyvrp_routes)

    def _member(self, solution: pyvrp.Solution) -> _Member:
        size = self.instance.num_nodes
        successor = np.zeros(size, dtype=np.int64)
        predecessor = np.zeros(size, dtype=np.int64)
        for route, _ in zip(*routes_of(solution)):
            path = np.array([0, *route, 0])
            successor[path[1:-1]] = path[2:]
            predecessor[path[1:-1]] = path[:-2]
        return _Member(solution, successor, predecessor)

    # -- search -----------------------------------------------------------------------------
    def improve(self, solution: pyvrp.Solution) -> pyvrp.Solution:
        evaluator = self.penalties.cost_evaluator()
        improved = self.search(solution, evaluator, exhaustive=True)
        self.penalties.register(improved)
        if not improved.is_feasible():  # one repair attempt with large penalties, as HGS does
            repaired = self.search(improved, self.penalties.max_cost_evaluator(), exhaustive=True)
            if repaired.is_feasible():
                improved = repaired
        self._consider(improved)
        return improved

    def _consider(self, solution: pyvrp.Solution) -> None:
        evaluator = self.penalties.cost_evaluator()
        if solution.is_feasible() and (self.best is None or evaluator.cost(solution) < evaluator.cost(self.best)):
            self.best = solution

    def add(self, solution: pyvrp.Solution) -> None:
        self.population.append(self._member(solution))
        if len(self.population) > 2 * self.mu:
            self._trim()

    def crossover(self, first: pyvrp.Solution, second: pyvrp.Solution) -> pyvrp.Solution:
        """Keep a random subset of the first parent's routes; the second parent's routes, minus
        the clients already kept, supply the rest in their order."""
        routes_a, types_a = routes_of(first)
        routes_b, types_b = routes_of(second)
        keep = self.rng.random(len(routes_a)) < 0.5
        if len(routes_a) > 1 and (keep.all() or not keep.any()):
            keep[self.rng.integers(len(routes_a))] ^= True
        kept = [(r, k) for r, k, flag in zip(routes_a, types_a, keep) if flag]
        covered = {node for route, _ in kept for node in route}
        rest = [([node for node in r if node not in covered], k) for r, k in zip(routes_b, types_b)]
        child = kept + [(r, k) for r, k in rest if r]
        return self.to_pyvrp([r for r, _ in child], [k for _, k in child])

    def _fitness(self) -> np.ndarray:
        """HGS biased fitness: cost rank plus weighted diversity rank (lower is better)."""
        size = len(self.population)
        evaluator = self.penalties.cost_evaluator()
        costs = np.array([evaluator.penalised_cost(m.solution) for m in self.population], dtype=float)
        successors = np.stack([m.successor for m in self.population])[:, 1:]
        predecessors = np.stack([m.predecessor for m in self.population])[:, 1:]
        # broken-pairs distance: share of clients whose neighbours differ between two solutions
        broken = (successors[:, None, :] != successors[None, :, :]).mean(-1)
        broken += (predecessors[:, None, :] != predecessors[None, :, :]).mean(-1)
        broken /= 2
        np.fill_diagonal(broken, np.inf)
        nearest = np.sort(broken, axis=1)[:, : min(self.close, size - 1)]
        diversity = nearest.mean(axis=1) if size > 1 else np.zeros(size)
        cost_rank = np.argsort(np.argsort(costs)) / max(size - 1, 1)
        diversity_rank = np.argsort(np.argsort(-diversity)) / max(size - 1, 1)
        return cost_rank + (1 - self.elite / size) * diversity_rank

    def _trim(self) -> None:
        while len(self.population) > self.mu:
            worst = int(np.argmax(self._fitness()))
            del self.population[worst]

    def _parent(self) -> pyvrp.Solution:
        fitness = self._fitness()
        i, j = self.rng.integers(len(self.population), size=2)
        return self.population[i if fitness[i] <= fitness[j] else j].solution

    def run(self, seeds: Sequence[pyvrp.Solution], deadline: float) -> pyvrp.Solution | None:
        for solution in seeds:
            self.add(self.improve(solution))
            if clock.perf_counter() >= deadline:
                return self.best
        while clock.perf_counter() < deadline and len(self.population) >= 2:
            child = self.crossover(self._parent(), self._parent())
            self.add(self.improve(child))
            self.generations += 1
        return self.best


def refine(
    instance: Instance, population: Sequence[Solution], *, time_limit: float | Deadline, seed: int = 0
) -> tuple[Solution | None, dict[str, object]]:
    """Improve ``population`` (e.g. K neural solutions; random ones when empty) within
    ``time_limit`` seconds, set-up and the final evaluation included.

    Returns the best solution found (scored by the evaluator), or ``None`` when the search found
    no feasible one, plus what happened, for the result's ``info``.
    """
    deadline = Deadline.of(time_limit)
    search = GeneticSearch(instance, seed=check_seed(seed))
    seeds = [search.to_pyvrp(s.routes, s.vehicle_types) for s in population]
    if not seeds:  # nothing to start from: random solutions, as a plain HGS would
        seeds = [pyvrp.Solution.make_random(search.data, search.pyvrp_rng) for _ in range(search.mu)]
    # the search stops between two local searches, so one may run past this point
    stop = clock.perf_counter() + deadline.remaining(finish_reserve(instance.num_nodes))
    best = search.run(seeds, deadline=stop)
    info = {"generations": search.generations, "population": len(search.population)}
    if best is None:
        return None, info
    routes, types = routes_of(best)
    return Solution.of(instance, routes, types, method="ga", runtime=deadline.elapsed()), info

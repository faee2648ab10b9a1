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

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyvrp

from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.budget import Deadline, check_seed, finish_reserve
from solvers.neighbours import Neighbours, neighbourhood
from solvers.pyvrp_solver import build_data, routes_of, search_components, solver_params
from solvers.scaling import integer_data
from solvers.stop import Budget, Criterion, Progress

__all__ = ["GeneticSearch", "refine"]


@dataclass
class _Member:
    solution: pyvrp.Solution
    successor: np.ndarray  # successor[i] of each client location (0 = depot), for diversity
    predecessor: np.ndarray


class GeneticSearch:
    """Population-based search over PyVRP solutions; ``run`` returns the best feasible one found."""

    def __init__(
        self,
        instance: Instance,
        *,
        seed: int,
        mu: int = 12,
        elite: int = 4,
        close: int = 3,
        neighbours: Neighbours = "proximity",
    ) -> None:
        self.instance = instance
        self.scaled = integer_data(instance)
        self.data = build_data(instance, self.scaled)
        self.rng = np.random.default_rng(seed)
        params = solver_params(self.scaled)
        # the local search's lists, as for the PyVRP solver (solvers.neighbours); what and how long
        lists, self.neighbour_info = neighbourhood(neighbours, self.data, params.neighbourhood)
        self.search, self.penalties, self.pyvrp_rng = search_components(self.data, params, seed, lists)
        self.mu, self.elite, self.close = mu, elite, close
        self.population: list[_Member] = []
        self.best: pyvrp.Solution | None = None
        self.generations = 0
        self.stopped = ""

    # -- conversion -------------------------------------------------------------------------
    def to_pyvrp(self, routes: Sequence[Sequence[int]], types: Sequence[int]) -> pyvrp.Solution:
        """nco routes (customer node ids) to a PyVRP solution, merging routes a fleet cannot staff."""
        available = [vehicle.count for vehicle in self.instance.vehicle_types]
        kept: list[tuple[list[int], int]] = []
        for route, k in sorted(zip(routes, types, strict=True), key=lambda item: -len(item[0])):
            if not route:
                continue
            if available[k] > 0:
                available[k] -= 1
                kept.append((list(route), k))
            else:  # no vehicle left of this type: append to the shortest route (local search repairs)
                shortest = min(range(len(kept)), key=lambda i: len(kept[i][0]))
                kept[shortest][0].extend(route)
        pyvrp_routes = [pyvrp.Route(self.data, [node - self.data.num_depots for node in route], k) for route, k in kept]
        return pyvrp.Solution(self.data, pyvrp_routes)

    def _member(self, solution: pyvrp.Solution) -> _Member:
        size = self.instance.num_nodes
        successor = np.zeros(size, dtype=np.int64)
        predecessor = np.zeros(size, dtype=np.int64)
        for route, _ in zip(*routes_of(solution, self.instance.num_depots), strict=True):
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
        routes_a, types_a = routes_of(first, self.instance.num_depots)
        routes_b, types_b = routes_of(second, self.instance.num_depots)
        keep = self.rng.random(len(routes_a)) < 0.5
        if len(routes_a) > 1 and (keep.all() or not keep.any()):
            keep[self.rng.integers(len(routes_a))] ^= True
        kept = [(r, k) for r, k, flag in zip(routes_a, types_a, keep, strict=True) if flag]
        covered = {node for route, _ in kept for node in route}
        rest = [([node for node in r if node not in covered], k) for r, k in zip(routes_b, types_b, strict=True)]
        child = kept + [(r, k) for r, k in rest if r]
        return self.to_pyvrp([r for r, _ in child], [k for _, k in child])

    def _fitness(self) -> np.ndarray:
        """HGS biased fitness: cost rank plus weighted diversity rank (lower is better)."""
        size = len(self.population)
        evaluator = self.penalties.cost_evaluator()
        costs = np.array([evaluator.penalised_cost(m.solution) for m in self.population], dtype=float)
        successors = np.stack([m.successor for m in self.population])[:, self.instance.num_depots :]
        predecessors = np.stack([m.predecessor for m in self.population])[:, self.instance.num_depots :]
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

    def run(self, seeds: Sequence[pyvrp.Solution], progress: Progress) -> pyvrp.Solution | None:
        """Improve ``seeds``, then breed until ``progress`` says stop (an iteration is a generation);
        the search stops between two local searches, so one may run past the deadline."""
        for solution in seeds:
            self.add(self.improve(solution))
            if progress.done():
                break
        while not progress.reason and len(self.population) >= 2:
            child = self.crossover(self._parent(), self._parent())
            self.add(self.improve(child))
            self.generations += 1
            progress.update(self.penalties.cost_evaluator().cost(self.best) if self.best is not None else math.inf)
        self.stopped = progress.reason or "population below two"
        return self.best


def refine(
    instance: Instance,
    population: Sequence[Solution],
    *,
    time_limit: float | Deadline | None = None,
    stop: Criterion | Budget | None = None,
    seed: int = 0,
    neighbours: Neighbours = "proximity",
) -> tuple[Solution | None, dict[str, object]]:
    """Improve ``population`` (e.g. K neural solutions; random ones when empty) until ``stop``
    fires (:mod:`solvers.stop`; a generation is an iteration) and within ``time_limit`` seconds,
    set-up and the final evaluation included. ``neighbours``: the local search's lists, as the
    PyVRP solver takes them (:mod:`solvers.neighbours`; their time is charged).

    Returns the best solution found (scored by the evaluator), or ``None`` when the search found
    no feasible one, plus what happened, for the result's ``info``.
    """
    budget = Budget.of(stop, time_limit)
    search = GeneticSearch(instance, seed=check_seed(seed), neighbours=neighbours)
    seeds = [search.to_pyvrp(s.routes, s.vehicle_types) for s in population]
    if not seeds:  # nothing to start from: random solutions, as a plain HGS would
        seeds = [pyvrp.Solution.make_random(search.data, search.pyvrp_rng) for _ in range(search.mu)]
    best = search.run(seeds, Progress(budget, reserve=finish_reserve(instance.num_nodes)))
    info = {
        "generations": search.generations,
        "population": len(search.population),
        "stopped": search.stopped,
        **search.neighbour_info,
    }
    if best is None:
        return None, info
    routes, types = routes_of(best, instance.num_depots)
    return Solution.of(instance, routes, types, method="ga", runtime=budget.deadline.elapsed()), info

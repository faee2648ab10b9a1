"""The hybrid's start when no rollout fits: a savings construction guided by the arc scorer.

Below ~0.1 s at N = 100 the policy's 25 % share cannot hold one autoregressive rollout, and the
hybrid used to run PyVRP alone. The arc scorer of the learned neighbourhoods (one forward pass,
O(N k)) and a compiled savings construction (:mod:`solvers.savings`) together cost a few
milliseconds: arcs are joined in decreasing ``saving * p ** GUIDANCE``, where ``p`` is the scorer's
probability that the arc is in a near-optimal solution. Measured on 12 real-city ACVRP100 test
instances (benchmarks/results/hybrid-*.md has the budgeted figures): on its own the guided
construction is *worse* than the classical savings (15.1 vs 12.3 % above PyVRP 10 s), but as PyVRP's
warm start it is better (PyVRP 0.05 / 0.1 / 0.2 s from it 4.4 / 3.4 / 3.0 %, from classical
savings 5.2 / 4.0 / 3.3 %, cold 6.1 / 4.1 / 3.3 %): the learned arcs are the ones the local search
keeps. ``GUIDANCE`` (0.25) was the best of {0, 0.25, 1} there (0 = classical savings).

Loading the scorer and compiling the construction are one-time costs (:func:`warmup`); computing
the start is charged to the budget, and :func:`fits` predicts it from a per-process calibration.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from nco.methods.neighbours import Learned, calibration_sample, problem_of, scorer_for, seconds_per_arc
from nco.policies.threads import one_thread
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.neighbours import proximity
from solvers.pyvrp_solver import build_data, solver_params
from solvers.savings import SUPPORTED, classical_savings, savings_routes
from solvers.scaling import integer_data

__all__ = ["GUIDANCE", "applicable", "fits", "guided_savings", "guided_start", "warmup"]

GUIDANCE = 0.25


def applicable(instance: Instance) -> str | None:
    """Why the guided start cannot serve ``instance`` (a feature it does not model), else None."""
    features = instance.features()
    used = sorted(name for name, value in features.items() if value and name not in SUPPORTED)
    if used:
        return f"the savings construction does not model {', '.join(used)}"
    if not features["capacity"]:
        return "no capacity: the construction joins routes of a capacitated fleet"
    if sum(vehicle.count for vehicle in instance.vehicle_types) < instance.num_customers:
        return "a limited fleet: the construction may open a route per client"
    return None


def warmup(instance: Instance) -> None:
    """Load the scorer for ``instance``'s variant, compile the construction and time it once on a
    sampled instance of the same variant (per process; not charged to any budget)."""
    _calibrated(problem_of(instance.features()))


def fits(instance: Instance, seconds: float) -> bool:
    """Whether the guided start is predicted to take at most ``seconds`` on ``instance``."""
    problem = problem_of(instance.features())
    arcs = instance.num_customers * scorer_for(problem).candidates
    return _calibrated(problem) * arcs <= seconds


def guided_savings(instance: Instance) -> Solution:
    """The savings routes joined by ``saving * p ** GUIDANCE``, scored by the evaluator."""
    return guided_start(instance)[0]


def guided_start(instance: Instance) -> tuple[Solution, Learned]:
    """The guided savings solution, and learned neighbour lists that reuse its arc scores (the
    refiner's lists need the same scores: computing them once saves ~5 ms at N = 100)."""
    scorer = scorer_for(problem_of(instance.features()))
    scaled = integer_data(instance)
    data = build_data(instance, scaled)
    candidates = proximity(data, solver_params(scaled).neighbourhood, scorer.candidates)
    with one_thread():
        logits = scorer.score(data, candidates)
    tails = np.repeat(np.arange(1, instance.num_nodes), candidates.shape[1])
    heads = candidates.ravel()
    probability = 1.0 / (1.0 + np.exp(-logits.ravel()))
    scores = classical_savings(instance, tails, heads) * probability**GUIDANCE
    routes = savings_routes(instance, tails, heads, scores)
    return Solution.of(instance, routes, method="guided-savings"), Learned(scorer, (candidates, logits))


@lru_cache(maxsize=8)
def _calibrated(problem: str) -> float:
    """Seconds per scored arc of the guided start for ``problem`` on this process."""
    sample = calibration_sample(problem)
    guided_savings(sample)  # compiles the numba kernel
    return seconds_per_arc(problem, sample, lambda: guided_savings(sample))

"""Neural construction, then classical refinement, inside one time budget.

As in EARLI, the budget covers everything: the policy's inference time is charged first, and the
refiner gets only what is left. The refiner is warm-started from the neural solutions (the genetic
search takes all K of them as its initial population). The result is never worse than the best
neural solution, and the evaluator has the last word on feasibility. When no shipped policy fits
the instance's variant, the refiner runs alone from its own start, and the result says so.
"""

from __future__ import annotations

import time as clock
from typing import Any

from nco.instance import Instance
from nco.solution import Solution
from solvers import get_solver
from solvers.budget import Deadline
from solvers.errors import UnsupportedFeature
from solvers.ga import refine
from solvers.neural_solver import candidates, checkpoint_for, load

__all__ = ["DEFAULT_REFINER", "REFINERS", "solve"]

REFINERS = ("pyvrp", "ga", "ortools", "vroom")
DEFAULT_REFINER = "pyvrp"  # the best one measured in benchmarks/results/hybrid.md


def solve(
    instance: Instance,
    *,
    time_limit: float,
    seed: int,
    initial: Solution | None = None,
    refiner: str = DEFAULT_REFINER,
    samples: int = 16,
    checkpoint: str | None = None,
    **options: Any,
) -> Solution:
    time_limit = Deadline.of(time_limit).remaining()  # interim: the full budget rework follows
    if refiner not in REFINERS:
        raise ValueError(f"unknown refiner {refiner!r}; choose one of {list(REFINERS)}")
    if options:
        raise TypeError(f"hybrid solver: unexpected options {sorted(options)}")
    policy_note = ""
    if checkpoint is None:
        try:
            checkpoint = checkpoint_for(instance)
        except UnsupportedFeature as error:  # no shipped policy for this variant: refine from scratch
            policy_note = f"no neural start ({error})"
    if checkpoint is not None:
        load(checkpoint)  # once per process, before the clock starts: budgets charge inference, not I/O
    started = clock.perf_counter()
    # greedy rollouts from as many POMO starts as solutions wanted: all N starts would double
    # the inference time at N = 100 for candidates the refiner rarely needs
    neural = [] if checkpoint is None else candidates(instance, samples, seed=seed, checkpoint=checkpoint, starts=samples)
    if initial is not None:
        neural.append(initial)
    neural_time = clock.perf_counter() - started
    feasible = sorted((s for s in neural if s.feasible), key=lambda s: s.cost)
    best_neural = feasible[0] if feasible else None
    remaining = time_limit - neural_time
    info: dict[str, Any] = {
        "refiner": refiner,
        "neural_time": neural_time,
        "neural_cost": best_neural.cost if best_neural else float("inf"),
        "neural_feasible": len(feasible),
        "neural_candidates": len(neural),
        "checkpoint": checkpoint or policy_note,
    }
    refined: Solution | None = None
    if remaining <= 0:
        info["refine"] = "skipped: the neural step used the whole budget"
    else:
        refined, note = _refine(instance, refiner, neural, best_neural, remaining, seed)
        info["refine"] = note
    info["refine_time"] = clock.perf_counter() - started - neural_time
    finalists = [s for s in (refined, best_neural) if s is not None and s.feasible]
    fallbacks = [s for s in (refined, *neural) if s is not None]
    if not finalists and not fallbacks:
        raise UnsupportedFeature("hybrid", f"{policy_note}; {info['refine']}")
    chosen = min(finalists or fallbacks, key=lambda s: (len(s.violations), s.cost))
    info["improved_by_refiner"] = chosen is refined and best_neural is not None and refined.cost < best_neural.cost
    return Solution.of(
        instance,
        chosen.routes,
        chosen.vehicle_types,
        method=f"hybrid-{refiner}",
        runtime=clock.perf_counter() - started,
        info=info,
    )


def _refine(
    instance: Instance,
    refiner: str,
    neural: list[Solution],
    best_neural: Solution | None,
    budget: float,
    seed: int,
) -> tuple[Solution | None, str]:
    try:
        if refiner == "ga":
            refined, details = refine(instance, neural, time_limit=budget, seed=seed)
            return refined, f"ga: {details}"
        # a feasible start is the useful one; without one the backend starts cold and says so
        start = best_neural or min(neural, key=lambda s: len(s.violations), default=None)
        refined = get_solver(refiner)(instance, time_limit=budget, seed=seed, initial=start)
        return refined, f"{refiner}: warm start {refined.info.get('warm_start', 'n/a')}"
    except UnsupportedFeature as error:
        return None, f"fallback to the neural solution: {error}"

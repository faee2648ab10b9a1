"""Neural construction, then classical refinement, inside one time budget.

As in EARLI, the budget covers everything, from the call to its return: the policy's inference
is charged first, and the refiner gets only what is left. The neural step is sized to at most
``NEURAL_SHARE`` of the budget from the policy's measured cost per rollout
(:func:`nco.methods.neural.plan`), and skipped when not even one rollout fits; loading the
checkpoint and calibrating it (:func:`nco.methods.neural.warmup`) is a one-time cost per
process and is not charged. The refiner is warm-started from the neural solutions (the genetic
search takes all K of them as its initial population). The result is never worse than the best
neural solution, and the evaluator has the last word on feasibility.

The refiner runs alone, and ``info["neural"]`` says why, when no shipped policy fits the
instance's variant, when the policy's environment refuses the instance (a customer that no
vehicle can serve on its own, e.g. one reachable in time only through another customer), or
when the budget is too small for one rollout. A caller's ``initial`` solution is re-scored on
this instance before it is used: a solution of another instance, or an infeasible one, is
rejected with the reason in ``info["initial"]``, never returned.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nco.methods import get_solver
from nco.methods.neural import candidates, checkpoint_for, plan, prepare, warmup  # noqa: F401  (prepare: nco.solve's hook)
from nco_core.errors import UnsupportedFeature, reject_options
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.budget import Deadline, check_seed
from solvers.ga import refine
from solvers.neighbours import ready

__all__ = ["DEFAULT_REFINER", "NEURAL_SHARE", "REFINERS", "solve"]

REFINERS = ("pyvrp", "ga", "ortools", "vroom")
DEFAULT_REFINER = "pyvrp"  # the best one measured in benchmarks/results/hybrid.md
NEURAL_SHARE = 0.25  # the most of the budget the neural step may take


def solve(
    instance: Instance,
    *,
    time_limit: float | Deadline,
    seed: int,
    initial: Solution | None = None,
    refiner: str = DEFAULT_REFINER,
    samples: int = 16,
    checkpoint: str | None = None,
    neighbours: str = "proximity",
    **options: Any,
) -> Solution:
    """``samples``: the most neural candidates (greedy rollouts from as many POMO starts) the
    refiner is seeded with; fewer when the budget's neural share fits fewer. ``neighbours``: the
    pyvrp refiner's local-search lists (:mod:`solvers.neighbours`; other refiners take none)."""
    deadline = Deadline.of(time_limit)
    seed = check_seed(seed)
    if refiner not in REFINERS:
        raise ValueError(f"unknown refiner {refiner!r}; choose one of {list(REFINERS)}")
    reject_options("hybrid", options, ("refiner", "samples", "checkpoint", "neighbours"))
    if samples < 1:
        raise ValueError(f"hybrid solver: samples must be >= 1, got {samples}")
    if neighbours != "proximity" and refiner != "pyvrp":
        raise ValueError(f"hybrid solver: neighbours={neighbours!r} needs refiner='pyvrp', not {refiner!r}")
    _, deadline = ready(neighbours, instance.features(), deadline)  # the scorer loads outside the budget
    info: dict[str, Any] = {"refiner": refiner, "starts": 0, "samples": 0, "candidates": 0,
                            "neighbours": "none (no PyVRP local search ran)"}
    pool: list[Solution] = []
    if initial is not None:
        start, info["initial"] = _rescore(instance, initial)
        pool += [start] if start is not None else []
    deadline, neural = _neural(instance, deadline, samples, seed, checkpoint, info)
    info["neural_time"] = deadline.elapsed()
    pool = neural + pool
    feasible = sorted((s for s in pool if s.feasible), key=lambda s: s.cost)
    best_start = feasible[0] if feasible else None
    info["neural_cost"] = min((s.cost for s in neural if s.feasible), default=float("inf"))
    info["neural_feasible"] = sum(s.feasible for s in neural)
    info["neural_candidates"] = len(neural)
    refined: Solution | None = None
    # every candidate was scored on this instance by the evaluator (the policy's, the refiner's and
    # the re-scored initial all come from Solution.of(instance, ...)), so the refiner may use what is
    # left: the result is relabelled below, not evaluated again
    budget = deadline.share()
    if budget.seconds <= 0 and best_start is not None:
        info["refine"] = "skipped: the neural step used the whole budget"
    else:  # with nothing to return yet, the refiner gives its quickest answer even out of time
        refined, info["refine"] = _refine(instance, refiner, pool, best_start, budget, seed, neighbours)
        if refined is not None:  # which neighbour lists PyVRP's search used, and their time
            info.update({key: value for key, value in refined.info.items() if key.startswith("neighbours")})
    info["refine_time"] = deadline.elapsed() - info["neural_time"]
    finalists = [s for s in (refined, best_start) if s is not None and s.feasible]
    fallbacks = [s for s in (refined, *neural) if s is not None]
    if not finalists and not fallbacks:
        raise UnsupportedFeature("hybrid", f"{info['neural']}; {info['refine']}")
    chosen = min(finalists or fallbacks, key=lambda s: (len(s.violations), s.cost))
    info["improved_by_refiner"] = chosen is refined and best_start is not None and refined.cost < best_start.cost
    return dataclasses.replace(chosen, method=f"hybrid-{refiner}", runtime=deadline.elapsed(), info=info)


def _rescore(instance: Instance, initial: Solution) -> tuple[Solution | None, str]:
    """The caller's solution scored on *this* instance; its own cost may belong to another."""
    try:
        again = Solution.of(instance, initial.routes, initial.vehicle_types, method="initial")
    except (TypeError, ValueError, IndexError) as error:
        return None, f"rejected: not a solution of instance {instance.name!r} ({error})"
    if not again.feasible:
        first = again.violations[0].message
        return None, f"rejected: infeasible on instance {instance.name!r} ({len(again.violations)} violations: {first})"
    return again, f"used (cost {again.cost:.6g} on this instance)"


def _neural(
    instance: Instance, deadline: Deadline, samples: int, seed: int, checkpoint: str | None, info: dict[str, Any]
) -> tuple[Deadline, list[Solution]]:
    """The neural candidates within ``NEURAL_SHARE`` of the budget (what happened goes to
    ``info``), and the deadline with the one-time warm-up (loading, calibration) left out."""
    if checkpoint is None:
        try:
            checkpoint = checkpoint_for(instance)
        except UnsupportedFeature as error:  # no shipped policy for this variant: refine from scratch
            info.update(checkpoint="", neural=f"skipped: no neural start ({error})")
            return deadline, []
    info["checkpoint"] = checkpoint
    began = deadline.elapsed()
    warmup(checkpoint)  # once per process; later calls return at once
    deadline = Deadline(deadline.start + deadline.elapsed() - began, deadline.seconds)
    share = NEURAL_SHARE * deadline.remaining()
    try:
        starts = min(plan(instance, share, checkpoint=checkpoint), samples, instance.num_customers)
        if starts == 0:
            info["neural"] = f"skipped: not even one rollout fits in {share:.3f} s ({NEURAL_SHARE:.0%} of the budget)"
            return deadline, []
        neural = candidates(instance, starts, seed=seed, checkpoint=checkpoint, starts=starts)
    except ValueError as error:  # the policy's environment cannot model this instance
        info["neural"] = f"skipped: the policy cannot start this instance ({error})"
        return deadline, []
    info.update(starts=starts, candidates=len(neural), neural=f"used: {len(neural)} candidates from {starts} POMO starts")
    return deadline, neural


def _refine(
    instance: Instance,
    refiner: str,
    pool: list[Solution],
    best_start: Solution | None,
    budget: Deadline,
    seed: int,
    neighbours: str,
) -> tuple[Solution | None, str]:
    try:
        if refiner == "ga":
            refined, details = refine(instance, pool, time_limit=budget, seed=seed)
            return refined, f"ga: {details}"
        # a feasible start is the useful one; without one the backend starts cold and says so
        start = best_start or min(pool, key=lambda s: len(s.violations), default=None)
        extra = {"neighbours": neighbours} if refiner == "pyvrp" else {}
        refined = get_solver(refiner)(instance, time_limit=budget, seed=seed, initial=start, **extra)
        return refined, f"{refiner}: warm start {refined.info.get('warm_start', 'n/a')}"
    except UnsupportedFeature as error:
        return None, f"fallback to the neural solution: {error}"

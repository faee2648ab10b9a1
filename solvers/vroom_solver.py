"""VROOM backend (pyvroom).

VROOM's inputs are 32-bit unsigned, so the instance is scaled with ``UINT32_MAX`` limits (see
:mod:`solvers.scaling`). The model:

* one VROOM profile per vehicle type, with that type's travel times as durations and a custom
  cost matrix holding its whole arc objective: ``unit_distance_cost * distance +
  unit_duration_cost * (travel + service)`` plus the preference shift; a fixed cost per used
  vehicle. VROOM cannot price waiting time, so with time windows *and* a duration cost the
  objective it optimises omits waiting (the reported cost is still the evaluator's);
* ``allowed`` becomes skills: one skill per distinct set of vehicle types allowed for a
  customer, required by those customers and held by the types in the set;
* depots, shifts: each vehicle's ``start`` / ``end`` are its type's depots (no ``end`` when it
  ends open) and its ``time_window`` is :attr:`IntegerData.shift` (depot hours and the shift);
* maximum route duration narrows that window to ``[start, start + max_duration]``, which is exact
  without customer time windows (no waiting); with time windows VROOM has no duration limit that
  counts waiting and service (``max_travel_time`` counts travel only): :class:`UnsupportedFeature`;
* ``max_tasks`` and ``max_distance`` are VROOM's own (a distances matrix per profile, rounded up);
* optional clients: VROOM has no prizes; it serves every job it can, required ones first (priority
  100 against 0). After each run every optional client whose prize is smaller than what serving
  it costs (by the evaluator, route feasibility kept) is left out again, so the prize decision is
  nco's greedy one on VROOM's routes, not VROOM's search;
* mixed pickup/delivery: jobs with both amounts; strict backhauls cannot be expressed:
  :class:`UnsupportedFeature`.

Budgets. VROOM's ``timeout`` covers only its local searches, split evenly among them; its
construction heuristics (4 to 32 per run, by ``exploration_level``) are not interruptible, and
each search checks the clock only between improving moves, so one run overshoots by roughly
``searches x (cost of one move round)``, and it returns early once every search converges (a
warm start is a single search: ~0.1 s at N = 100 whatever the timeout). :func:`solve` therefore
runs VROOM repeatedly inside one :class:`~solvers.budget.Deadline`: each run's timeout is what is
left minus the overshoot predicted from the runs so far; the first cold run takes the highest
level predicted to fit, and a run that converges early hands the rest to the next level up. The
best run by nco's evaluator wins; ``info["runs"]`` lists them and ``info["stopped"]`` says why
the last one was the last. An iteration (:mod:`solvers.stop`) is one run: ``MaxIterations(n)``
makes at most ``n`` runs, ``NoImprovement(n)`` stops after ``n`` runs in a row without a better
feasible cost. VROOM is deterministic: ``seed`` is recorded only.
"""

from __future__ import annotations

import math
import time as clock
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import vroom

from nco_core.errors import UnsupportedFeature
from nco_core.evaluate import Evaluation, evaluate
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.base import Options, Solver
from solvers.budget import finish_reserve
from solvers.scaling import UINT32_MAX, IntegerData, integer_data
from solvers.stop import Budget

__all__ = ["SOLVER", "Vroom", "VroomOptions"]

NAME = "vroom"


def _check_supported(instance: Instance) -> None:
    features = instance.features()
    if features["strict_backhaul"]:
        raise UnsupportedFeature(NAME, "strict_backhaul")
    if features["max_duration"] and features["time_windows"]:
        raise UnsupportedFeature(NAME, "max_duration with time_windows")


def _skills(instance: Instance) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Per customer the skill it requires, per vehicle type the skills it holds."""
    jobs: dict[int, set[int]] = {}
    vehicles: dict[int, set[int]] = {k: set() for k in range(len(instance.vehicle_types))}
    allowed = instance.allowed
    if allowed is None or allowed.all():
        return jobs, vehicles
    patterns: dict[tuple[bool, ...], int] = {}
    for node in range(instance.num_depots, instance.num_nodes):
        column = tuple(bool(x) for x in allowed[:, node])
        if all(column):
            continue
        skill = patterns.setdefault(column, len(patterns) + 1)
        jobs[node] = {skill}
        for k in np.flatnonzero(column):
            vehicles[int(k)].add(skill)
    return jobs, vehicles


def _build(instance: Instance, scaled: IntegerData, initial: Solution | None) -> tuple[vroom.Input, list[int]]:
    problem = vroom.Input()
    features = instance.features()
    with_load = features["capacity"] or features["backhaul"]
    job_skills, vehicle_skills = _skills(instance)
    windows = scaled.windows
    for k, vehicle in enumerate(instance.vehicle_types):
        name = f"type{k}"
        problem.set_durations_matrix(name, scaled.travel[vehicle.profile])
        problem.set_costs_matrix(name, scaled.arc_cost[k])
        if scaled.distances is not None:
            problem.set_distances_matrix(name, scaled.distances[vehicle.profile])
    starts: dict[int, list[list[int]]] = {}
    if initial is not None:
        for route, k in zip(initial.routes, initial.vehicle_types, strict=True):
            starts.setdefault(k, []).append(route)
    vehicle_type: list[int] = []
    for k, vehicle in enumerate(instance.vehicle_types):
        early, late = (int(x) for x in scaled.shift[k])
        if scaled.max_duration[k] < scaled.time.big:  # no customer windows (checked): no waiting
            late = min(late, early + int(scaled.max_duration[k]))
        window = vroom.TimeWindow(early, late) if early > 0 or late < scaled.time.big else None
        limits: dict[str, int] = {}
        if vehicle.max_tasks is not None:
            limits["max_tasks"] = vehicle.max_tasks
        if scaled.max_distance is not None:
            limits["max_distance"] = int(scaled.max_distance[k])
        for _ in range(vehicle.count):
            queued = starts.get(k, [])
            steps = []
            if queued:
                visits = queued.pop(0)
                steps = [
                    vroom.VehicleStep("start"),
                    *(vroom.VehicleStep("single", n) for n in visits),
                    vroom.VehicleStep("end"),
                ]
            problem.add_vehicle(
                vroom.Vehicle(
                    len(vehicle_type),
                    start=vehicle.start_depot,
                    end=vehicle.end_depot,
                    profile=f"type{k}",
                    capacity=[int(scaled.capacity[k])] if with_load else (),
                    skills=vehicle_skills[k] or None,
                    time_window=window,
                    costs=vroom.VehicleCosts(fixed=int(scaled.fixed_cost[k])),
                    steps=steps,
                    **limits,
                )
            )
            vehicle_type.append(k)
    required = instance.is_required
    ranked = not bool(required.all())  # priorities only where some jobs are optional
    for node in range(instance.num_depots, instance.num_nodes):
        load = {
            "delivery": vroom.Amount([int(scaled.delivery[node])]),
            "pickup": vroom.Amount([int(scaled.pickup[node])]),
        }
        problem.add_job(
            vroom.Job(
                node,
                location=node,
                default_service=int(scaled.service[node]),
                skills=job_skills.get(node),
                priority=100 if ranked and required[node] else 0,
                time_windows=[vroom.TimeWindow(int(windows[node, 0]), int(windows[node, 1]))]
                if features["time_windows"]
                else (),
                **(load if with_load else {}),
            )
        )
    return problem, vehicle_type


def _searches(level: int) -> int:
    """Local searches one VROOM run makes at ``level`` (one per construction heuristic)."""
    return 4 * (level + 1) + 4 * (level >= 4) + 4 * (level >= 5)


def _search_cost(level: int, num_nodes: int) -> float:
    """Prior overshoot of one search beyond its slice of the timeout, in seconds: its
    construction heuristic and its last move round, measured about 3 ms at level 0 and 7 ms at
    level 5 for N = 100 on this project's shared 2-core machine (pyvroom 1.15), growing as N^2. A call replaces the
    prior's scale by what its own runs measure."""
    return (3.0 + 0.8 * level) * 1e-7 * num_nodes**2


_PRIOR_SAFETY = 2.0  # the first run trusts the prior only this far (measured overshoots reached 1.8x it under load)


@dataclass
class _Run:
    level: int | str
    timeout: float
    seconds: float
    solution: Solution

    def describe(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "timeout": round(self.timeout, 4),
            "seconds": round(self.seconds, 4),
            "cost": self.solution.cost,
            "feasible": self.solution.feasible,
        }


@dataclass(frozen=True)
class VroomOptions(Options):
    """``exploration_level``: 0-5, the highest level tried; ``threads``: VROOM's threads per run."""

    exploration_level: int = 5
    threads: int = 1

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("exploration_level", self.exploration_level, 0, 5),
            ("threads", self.threads, 1, 1024),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"vroom solver: {name} must be an integer in {low}..{high}, got {value!r}")


class Vroom(Solver[VroomOptions]):
    """VROOM's local search, rerun at rising exploration levels within the budget in total (see
    the module docstring)."""

    name = NAME
    options_type = VroomOptions

    def solve(
        self, instance: Instance, options: VroomOptions, *, budget: Budget, seed: int, initial: Solution | None = None
    ) -> Solution:
        deadline = budget.deadline
        exploration_level, threads = options.exploration_level, options.threads
        _check_supported(instance)
        scaled = integer_data(instance, entry_limit=UINT32_MAX, fold_duration_cost=True)
        reserve = finish_reserve(instance.num_nodes)
        scale = _PRIOR_SAFETY  # measured overshoot / prior, updated by every run that hits its timeout
        runs: list[_Run] = []
        progress = budget.progress()

        def overshoot(level: int, searches: int) -> float:
            return scale * searches * _search_cost(level, instance.num_nodes)

        def run(problem: vroom.Input, vehicle_type: list[int], level: int, searches: int, label: int | str) -> bool:
            """One VROOM run; True when it returned before its timeout (its searches converged)."""
            nonlocal scale
            timeout = max(deadline.remaining(reserve) - overshoot(level, searches), 0.0)
            began = clock.perf_counter()
            result = problem.solve(exploration_level=level, nb_threads=threads, timeout=timedelta(seconds=timeout))
            seconds = clock.perf_counter() - began
            if seconds > timeout:
                scale = (seconds - timeout) / (searches * _search_cost(level, instance.num_nodes))
            solution = _solution(instance, scaled, result, vehicle_type, seed)
            runs.append(_Run(label, timeout, seconds, solution))
            progress.update(solution.cost if solution.feasible else math.inf)
            return seconds < timeout

        warm = "none"
        converged = True
        if initial is not None:
            try:
                problem, vehicle_type = _build(instance, scaled, initial)
                converged = run(problem, vehicle_type, exploration_level, 1, "warm start")
                warm = "used"
            except vroom._vroom.VroomInputException as error:
                warm = f"rejected ({error}); cold start"
        if converged:  # a warm start that used its timeout leaves no time for cold runs
            problem, vehicle_type = _build(instance, scaled, None)
        # the first cold run takes the highest level whose local searches get at least twice its
        # predicted overshoot
        left = deadline.remaining(reserve)
        fits = [level for level in range(exploration_level + 1) if 3 * overshoot(level, _searches(level)) <= left]
        level = fits[-1] if fits else 0
        stopped = ""
        while converged:
            if runs and (budget.max_iterations is not None or budget.no_improvement is not None) and progress.done():
                stopped = f"stop: {progress.reason}"
                break
            if runs and deadline.remaining(reserve) <= overshoot(level, _searches(level)):
                stopped = f"budget: too little time left for a run at level {level}"
                break
            converged = run(problem, vehicle_type, level, _searches(level), level)
            if converged and level == exploration_level:
                stopped = f"converged at level {level} (VROOM is deterministic: another run would repeat it)"
                break
            level = min(level + 1, exploration_level)
        stopped = stopped or "budget: the last run used its timeout (what is left was kept for its predicted overshoot)"
        best = min(runs, key=lambda r: (len(r.solution.violations), r.solution.cost))
        info = dict(
            best.solution.info,
            warm_start=warm,
            runs=[r.describe() for r in runs],
            stopped=f"{stopped}, {deadline.remaining():.3f} s of {deadline.seconds:g} s left",
            stop=budget.describe(),
            **scaled.describe(),
        )
        return Solution.of(
            instance,
            best.solution.routes,
            best.solution.vehicle_types,
            method=NAME,
            runtime=deadline.elapsed(),
            info=info,
        )


SOLVER = Vroom()


def _solution(instance: Instance, scaled: IntegerData, result: Any, vehicle_type: list[int], seed: int) -> Solution:
    """One run's routes, scored by the evaluator."""
    output = result.to_dict()
    routes, types = [], []
    for route in output["routes"]:
        routes.append([step["id"] for step in route["steps"] if step["type"] == "job"])
        types.append(vehicle_type[route["vehicle"]])
    routes = _drop_unprofitable(instance, routes, types)
    info = {
        "backend_cost": scaled.cost.value(output["summary"]["cost"]) - scaled.preference_offset,
        "unassigned": [job["id"] for job in output["unassigned"]],
        "seed": seed,
    }
    return Solution.of(instance, routes, types, method=NAME, info=info)


def _drop_unprofitable(instance: Instance, routes: list[list[int]], types: list[int]) -> list[list[int]]:
    """Leave out each served optional client whose prize is smaller than what serving it costs
    (VROOM, which has no prizes, serves every job it can). Each removal is scored on its route
    by the evaluator and kept only when it lowers the cost without a new route violation."""
    if bool(instance.is_required.all()):
        return routes
    optional = ~instance.is_required
    kept = [list(route) for route in routes]
    for r, k in enumerate(types):
        for node in [n for n in kept[r] if optional[n]]:
            trial = [n for n in kept[r] if n != node]
            before, after = evaluate(instance, [kept[r]], [k]), evaluate(instance, [trial], [k])
            if after.cost < before.cost and _route_faults(after) <= _route_faults(before):
                kept[r] = trial
    return kept


def _route_faults(evaluation: Evaluation) -> set[tuple[str, int | None]]:
    """A single route's own violations (kind, node); coverage of the other clients is not its business."""
    return {(v.kind, v.node) for v in evaluation.violations if v.route is not None}

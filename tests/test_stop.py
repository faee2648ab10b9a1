"""Stop criteria: they compose, always keep a runtime bound, and every method stops on them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest

import nco
from nco.methods import get_solver
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.budget import Deadline
from solvers.ga import refine
from solvers.stop import DEFAULT_TIME_LIMIT, AnyOf, Budget, MaxIterations, MaxRuntime, NoImprovement

LONG = 30.0  # a time limit the iteration criteria must beat by far
QUICK = 5.0  # wall seconds within which a stopped search returns, with room for a loaded machine


@pytest.fixture(scope="module")
def instance() -> Instance:
    return nco.sample_instance("acvrp", 40, seed=3)


@pytest.fixture(scope="module")
def warm(instance: Instance) -> None:
    """Load and calibrate the shipped policy once: a one-time cost no budget (and no wall figure here) pays."""
    for method in ("neural", "hybrid"):
        get_solver(method).prepare(instance, get_solver(method).options())


def timed(call: Callable[[], Solution]) -> tuple[float, Solution]:
    began = time.perf_counter()
    solution = call()
    return time.perf_counter() - began, solution


# -- the objects --------------------------------------------------------------------------------
def test_criteria_compose_into_the_tightest_bound_of_each_kind() -> None:
    stop = MaxRuntime(5) | MaxIterations(40) | NoImprovement(10) | MaxIterations(20)
    assert isinstance(stop, AnyOf) and len(stop.criteria) == 4  # nested ors are flattened
    budget = Budget.of(stop, time_limit=2)
    assert (budget.deadline.seconds, budget.max_iterations, budget.no_improvement) == (2, 20, 10)
    assert budget.describe() == "MaxRuntime(2) | MaxIterations(20) | NoImprovement(10)"


def test_every_call_has_a_runtime_bound() -> None:
    assert Budget.of().deadline.seconds == DEFAULT_TIME_LIMIT
    assert Budget.of(MaxIterations(3)).deadline.seconds == DEFAULT_TIME_LIMIT
    assert Budget.of(MaxRuntime(0.5) | NoImprovement(3)).deadline.seconds == 0.5
    running = Budget.of(time_limit=3)
    assert Budget.of(running) is running  # a stage shares its caller's clock
    deadline = Deadline.of(3)
    shorter = Budget.of(MaxRuntime(1), deadline)  # a running deadline keeps its start; MaxRuntime only shortens it
    assert shorter.deadline.start == deadline.start and shorter.deadline.seconds == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: MaxIterations(0),
        lambda: MaxIterations(1.5),
        lambda: NoImprovement(True),
        lambda: MaxRuntime(math.inf),
        lambda: MaxRuntime(0),
    ],
)
def test_bad_criteria_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        make()


def test_stop_must_be_a_criterion(instance: Instance) -> None:
    with pytest.raises(TypeError, match="stop must be a stop criterion"):
        nco.solve(instance, "pyvrp", stop=5)  # type: ignore[arg-type]


def test_progress_names_the_criterion_that_fired() -> None:
    progress = Budget.of(MaxIterations(5) | NoImprovement(2), time_limit=10).progress()
    assert [progress.update(cost) for cost in (3.0, 2.0, 2.0)] == [False, False, False]
    assert progress.update(2.5) and progress.reason == "NoImprovement(2)"
    counted = Budget.of(MaxIterations(2), time_limit=10).progress()
    assert not counted.update(3.0) and counted.update(1.0) and counted.reason == "MaxIterations(2)"


# -- every method honours them well before a long time limit ---------------------------------
def test_pyvrp_stops_on_iterations_and_on_no_improvement(instance: Instance) -> None:
    wall, solution = timed(lambda: nco.solve(instance, "pyvrp", time_limit=LONG, stop=MaxIterations(100)))
    assert solution.feasible and solution.info["iterations"] == 100 and wall < QUICK
    wall, solution = timed(lambda: nco.solve(instance, "pyvrp", time_limit=LONG, stop=NoImprovement(200)))
    assert solution.feasible and solution.info["iterations"] >= 200 and wall < QUICK
    assert solution.info["stop"] == "MaxRuntime(30) | NoImprovement(200)"


def test_ortools_stops_on_solutions_and_on_no_improvement(instance: Instance) -> None:
    wall, solution = timed(lambda: nco.solve(instance, "ortools", time_limit=LONG, stop=MaxIterations(20)))
    assert solution.feasible and "MaxIterations(20)" in solution.info["stopped"] and wall < QUICK
    wall, solution = timed(lambda: nco.solve(instance, "ortools", time_limit=LONG, stop=NoImprovement(50)))
    assert solution.feasible and "NoImprovement(50)" in solution.info["stopped"] and wall < QUICK


def test_vroom_counts_its_runs(instance: Instance) -> None:
    start = nco.solve(instance, "pyvrp", time_limit=0.2)
    free = nco.solve(instance, "vroom", time_limit=LONG, initial=start)
    assert [run["level"] for run in free.info["runs"]] == ["warm start", 5]
    wall, solution = timed(lambda: nco.solve(instance, "vroom", time_limit=LONG, stop=MaxIterations(1), initial=start))
    assert [run["level"] for run in solution.info["runs"]] == ["warm start"] and wall < QUICK
    assert solution.feasible and solution.info["stopped"].startswith("stop: MaxIterations(1)")


def test_ga_stops_on_generations(instance: Instance) -> None:
    start = [nco.solve(instance, "pyvrp", time_limit=0.1, seed=seed) for seed in range(3)]
    began = time.perf_counter()
    solution, info = refine(instance, start, time_limit=LONG, stop=MaxIterations(10))
    assert solution is not None and solution.feasible and time.perf_counter() - began < QUICK
    assert info["generations"] == 10 and info["stopped"] == "MaxIterations(10)"
    solution, info = refine(instance, start, stop=NoImprovement(15) | MaxRuntime(LONG))
    assert solution is not None and info["stopped"] == "NoImprovement(15)"


def test_neural_decodes_one_batch_whatever_the_iteration_criteria(instance: Instance, warm: None) -> None:
    wall, solution = timed(lambda: nco.solve(instance, "neural", time_limit=LONG, stop=MaxIterations(1)))
    assert solution.feasible and wall < QUICK and solution.info["stop"] == "MaxRuntime(30) | MaxIterations(1)"


@pytest.mark.parametrize("refiner", ["pyvrp", "ga", "ortools"])
def test_hybrid_hands_the_iteration_criteria_to_its_refiner(refiner: str, instance: Instance, warm: None) -> None:
    wall, solution = timed(
        lambda: nco.solve(instance, "hybrid", refiner=refiner, time_limit=LONG, stop=MaxIterations(20))
    )
    assert solution.feasible and wall < QUICK and solution.info["neural"].startswith("used")
    assert solution.info["stop"] == "MaxRuntime(30) | MaxIterations(20)"

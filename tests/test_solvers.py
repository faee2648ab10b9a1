"""The classical backends on random instances of every variant they model, judged by the evaluator."""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import VARIANTS, instances

import nco
from nco import Instance, Solution, evaluate
from nco.methods import SOLVER_MODULES, get_solver
from nco_core import UnsupportedFeature
from nco_core.errors import UnknownOption
from solvers.base import Solver
from solvers.neighbours import proximity
from solvers.scaling import UINT32_MAX, choose_scale, integer_data
from solvers.stop import Budget, MaxIterations

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
BACKENDS = ("pyvrp", "ortools", "vroom")

# (backend, variant) pairs that must raise UnsupportedFeature before solving, with the feature named
UNSUPPORTED = {
    ("pyvrp", "strict_backhaul"): "strict_backhaul",
    ("vroom", "strict_backhaul"): "strict_backhaul",
}
# VROOM does not price waiting time; its own objective then differs from the evaluator's
APPROXIMATE_OBJECTIVE = {("vroom", "everything")}

CASES = [(b, v) for b in BACKENDS for v in VARIANTS if (b, v) not in UNSUPPORTED]


def _check(instance: Instance, solution: Solution) -> None:
    assert solution.feasible, str(solution)
    visited = sorted(node for route in solution.routes for node in route)
    assert visited == list(range(1, instance.num_nodes)), "every customer exactly once"
    again = evaluate(instance, solution.routes, solution.vehicle_types)
    assert again.cost == pytest.approx(solution.cost)


@pytest.mark.parametrize(("backend", "variant"), CASES)
def test_backend_solves_variant(backend: str, variant: str) -> None:
    @settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(instances(VARIANTS[variant], max_customers=12))
    def run(instance: Instance) -> None:
        solution = nco.solve(instance, backend, time_limit=0.25, seed=1)
        _check(instance, solution)
        assert solution.method == backend
        if (backend, variant) not in APPROXIMATE_OBJECTIVE:
            # the backend optimised the evaluator's objective: its own (unscaled) cost agrees
            assert solution.info["backend_cost"] == pytest.approx(solution.cost, rel=1e-3, abs=1e-3)

    run()


ONE = settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("backend", "variant"), sorted(UNSUPPORTED))
def test_unsupported_features_raise(backend: str, variant: str) -> None:
    @ONE
    @given(instances(VARIANTS[variant]))
    def run(instance: Instance) -> None:
        with pytest.raises(UnsupportedFeature, match=f"not supported by {backend}: {UNSUPPORTED[backend, variant]}"):
            get_solver(backend)(instance, time_limit=0.1, seed=0)

    run()


@ONE
@given(instances(VARIANTS["time_windows"]))
def test_vroom_rejects_max_duration_with_time_windows(instance: Instance) -> None:
    instance = instance.replace(max_route_duration=1e6)
    with pytest.raises(UnsupportedFeature, match="not supported by vroom: max_duration with time_windows"):
        nco.solve(instance, "vroom", time_limit=0.1)


def _singletons(instance: Instance) -> Solution:
    """A poor but feasible start: every customer on its own route."""
    return Solution.of(instance, [[i] for i in range(1, instance.num_nodes)])


@pytest.mark.parametrize("backend", BACKENDS)
@ONE
@given(instance=instances(VARIANTS["time_windows"], min_customers=10))
def test_warm_start_never_worse(backend: str, instance: Instance) -> None:
    start = _singletons(instance)
    assert start.feasible
    solution = nco.solve(instance, backend, time_limit=0.3, seed=2, initial=start)
    assert solution.info["warm_start"] == "used"
    _check(instance, solution)
    if backend != "vroom":  # VROOM only seeds its search with the start
        assert solution.cost <= start.cost + 1e-6


@pytest.mark.parametrize("backend", BACKENDS)
@ONE
@given(instance=instances(VARIANTS["cvrp"], min_customers=8))
def test_infeasible_warm_start_falls_back(backend: str, instance: Instance) -> None:
    overloaded = Solution.of(instance, [list(range(1, instance.num_nodes))])
    assert not overloaded.feasible
    solution = nco.solve(instance, backend, time_limit=0.3, seed=0, initial=overloaded)
    _check(instance, solution)
    assert solution.info["warm_start"] != "used"


def test_choose_scale_exact_precise_and_bounded() -> None:
    assert choose_scale(np.array([3.0, 17.0, np.inf]), terms=10).factor == 1.0  # integers stay exact
    assert choose_scale(np.array([0.25, 1.5]), terms=10).factor == 100.0  # two decimals, exact
    precise = choose_scale(np.array([np.pi * 100, 1.0]), terms=10)
    assert precise.factor == 1e3 and precise.round(np.pi * 100) == 314159  # 6 significant digits
    bounded = choose_scale(np.array([np.pi * 1e3]), terms=100_000, entry_limit=UINT32_MAX)
    assert bounded.big <= UINT32_MAX and bounded.factor == 10.0  # the limit wins over precision (100)
    assert bounded.round(np.inf) == bounded.big > 100_000 * bounded.round(np.pi * 1e3)


@settings(max_examples=20, deadline=None)
@given(instances(VARIANTS["time_windows"]))
def test_integer_data_keeps_float_feasibility(instance: Instance) -> None:
    """Conservative rounding: integer windows lie inside the float ones, travel times above them."""
    scaled = integer_data(instance, entry_limit=UINT32_MAX)
    f = scaled.time.factor
    assert np.all(scaled.windows[:, 0] / f >= instance.time_windows[:, 0] - 1e-9)
    assert np.all(scaled.windows[:, 1] / f <= instance.time_windows[:, 1] + 1e-9)
    assert np.all(scaled.travel[0] / f >= instance.duration_matrix() - 1e-9)


def _cvrplib_instance(path: Path) -> tuple[Instance, float]:
    vrplib = pytest.importorskip("vrplib")
    data = vrplib.read_instance(str(path))
    bks = vrplib.read_solution(str(path.with_suffix(".sol")))["cost"]
    instance = Instance(
        distance=np.round(data["edge_weight"]),
        coordinates=data["node_coord"],
        demand=data["demand"],
        capacity=data["capacity"],
        name=path.stem,
    )
    return instance, float(bks)


def test_pyvrp_near_best_known_on_cvrplib_x() -> None:
    path = BENCHMARKS / "cvrplib_x" / "X-n101-k25.vrp"
    if not path.exists():
        pytest.skip(f"{path} not available")
    instance, bks = _cvrplib_instance(path)
    solution = nco.solve(instance, "pyvrp", time_limit=2.0, seed=0)
    assert solution.feasible
    assert solution.cost <= 1.10 * bks
    assert solution.runtime < 2.5


def test_pyvrp_cost_matches_evaluator_on_solomon() -> None:
    """Round trip on real float data: PyVRP's own (unscaled) objective is nco's evaluator cost."""
    path = BENCHMARKS / "solomon" / "C101.txt"
    if not path.exists():
        pytest.skip(f"{path} not available")
    vrplib = pytest.importorskip("vrplib")
    data = vrplib.read_instance(str(path), instance_format="solomon")
    instance = Instance(
        distance=data["edge_weight"],
        demand=data["demand"],
        capacity=data["capacity"],
        num_vehicles=int(data["vehicles"]),
        time_windows=data["time_window"],
        service_time=data["service_time"],
        name=path.stem,
    )
    solution = nco.solve(instance, "pyvrp", time_limit=1.0, seed=0)
    assert solution.feasible
    assert solution.info["backend_cost"] == pytest.approx(solution.cost, abs=1e-2)
    table = BENCHMARKS / "solomon" / "solomon_bks.csv"
    if table.exists():
        with table.open() as handle:
            bks = {row["instance"]: float(row["bks_distance_only_distance"]) for row in csv.DictReader(handle)}
        assert solution.cost <= 1.05 * bks[path.stem]


# -- the typed contract ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(SOLVER_MODULES))
def test_every_method_is_a_typed_solver_with_an_options_dataclass(method: str) -> None:
    solver = get_solver(method)
    assert isinstance(solver, Solver) and solver.name == method
    assert dataclasses.is_dataclass(solver.options_type) and isinstance(solver.options(), solver.options_type)
    accepted = ", ".join(field.name for field in dataclasses.fields(solver.options_type))
    with pytest.raises(
        UnknownOption, match=rf"{method} solver: unknown option\(s\) \['bogus'\]; it accepts {accepted}"
    ):
        nco.solve(nco.sample_instance("acvrp", 5, seed=0), method, bogus=1)


@pytest.mark.parametrize(
    "method, options, message",
    [
        ("vroom", {"exploration_level": 9}, "exploration_level must be an integer in 0..5"),
        ("ortools", {"first_solution": "NEAREST"}, "unknown first_solution 'NEAREST'"),
        ("neural", {"samples": -1}, "samples must be an integer >= 0"),
        ("hybrid", {"starts": 0}, "starts must be an integer >= 1"),
        ("hybrid", {"refiner": "ortools", "neighbours": "learned"}, "needs refiner='pyvrp'"),
        ("pyvrp", {"neighbours": "nearest"}, "unknown neighbours 'nearest'"),
    ],
)
def test_option_values_are_checked_when_parsed(method: str, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        get_solver(method).options(**options)


def test_the_typed_path_takes_parsed_options_and_a_running_budget() -> None:
    instance = nco.sample_instance("acvrp", 20, seed=1)
    solver = get_solver("ortools")
    options = solver.options(first_solution="PATH_CHEAPEST_ARC")
    solution = solver.solve(instance, options, budget=Budget.of(MaxIterations(5), time_limit=5), seed=0)
    _check(instance, solution)
    assert solution.info["first_solution"] == "PATH_CHEAPEST_ARC" and solution.runtime < 2


def test_the_pyvrp_backend_takes_a_provider_and_leaves_learned_to_the_method_layer() -> None:
    from solvers.pyvrp_solver import SOLVER as backend

    with pytest.raises(ValueError, match="unknown neighbours 'learned'"):
        backend.options(neighbours="learned")
    shapes = []

    def provider(data, params):
        lists = proximity(data, params, 5)
        shapes.append(lists.shape)
        return lists, {"neighbours": "five nearest"}

    instance = nco.sample_instance("acvrp", 20, seed=1)
    solution = backend(instance, time_limit=0.2, neighbours=provider)
    _check(instance, solution)
    assert shapes == [(20, 5)] and solution.info["neighbours"] == "five nearest" and solution.info["neighbours_k"] == 5

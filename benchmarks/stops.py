"""nco against VROOM itself on the shipped "bring your own stops" example, at equal wall-clock time.

    python benchmarks/stops.py                          # budgets 1,5 s, seeds 0,1,2
    python benchmarks/stops.py --budgets 1,5,10 --seeds 0,1,2,3,4

The same VROOM problem file (data/examples/oslo-deliveries.json: 60 jobs, 6 vans, real Oslo road
matrices) is solved by pyvroom directly (``Input.from_json(...).solve(exploration_level=5,
nb_threads=1, timeout=budget)``), and by ``nco.solve`` with hybrid, pyvrp and vroom at the same
budget. Every plan, VROOM's own included (read back by its job and vehicle ids), is scored by nco's
evaluator. Two objectives are shown: nco's (fixed + the whole route durations, service and waiting
included) and VROOM's (fixed + driving seconds, as VROOM's summary has it), computed from the
evaluator's schedule for every plan alike. Writes ``benchmarks/results/stops.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vroom  # noqa: E402
from machine import ROOT, describe, publish  # noqa: E402

import nco  # noqa: E402
from nco_core.stops import Problem  # noqa: E402
from nco_core.vroom_io import read_vroom_solution, vroom_solution  # noqa: E402

EXAMPLE = ROOT / "data" / "examples" / "oslo-deliveries.json"
METHODS = ["pyvroom (VROOM itself)", "nco hybrid", "nco pyvrp", "nco vroom"]


def run(method: str, problem: Problem, budget: float, seed: int) -> tuple[nco.Solution, float]:
    start = time.perf_counter()
    if method.startswith("pyvroom"):
        answer = (
            vroom.Input.from_json(EXAMPLE)
            .solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=budget))
            .to_dict()
        )
        solution = read_vroom_solution(EXAMPLE, problem, data=answer)
    else:
        solution = nco.solve(problem.instance, method=method.split()[1], time_limit=budget, seed=seed)
    return solution, time.perf_counter() - start


def vroom_objective(problem: Problem, solution: nco.Solution) -> float:
    """VROOM's cost of a plan: fixed costs plus per-hour driving time (per_km is 0 in the example)."""
    plan = vroom_solution(problem, solution)
    per_hour = {v.id: v.per_hour for v in problem.vehicles}
    fixed = {v.id: v.fixed for v in problem.vehicles}
    return sum(fixed[r["vehicle"]] + per_hour[r["vehicle"]] * r["duration"] / 3600 for r in plan["routes"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="1,5")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "stops.md"))
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    problem = nco.read_problem(EXAMPLE)
    nco.solve(problem.instance, method="hybrid", time_limit=0.5)  # one-time imports and checkpoint loading
    rows = []
    for budget in budgets:
        for method in METHODS:
            results = [run(method, problem, budget, seed) for seed in seeds]
            feasible = sum(s.feasible for s, _ in results)
            costs = [s.cost for s, _ in results]
            ours = [vroom_objective(problem, s) for s, _ in results]
            walls = [w for _, w in results]
            rows.append(
                (
                    budget,
                    method,
                    feasible,
                    statistics.mean(costs),
                    min(costs),
                    statistics.mean(ours),
                    min(ours),
                    statistics.mean(s.num_routes for s, _ in results),
                    max(walls),
                )
            )
            print(rows[-1], flush=True)
    lines = [
        "# nco vs VROOM on the shipped stops example",
        "",
        f"`python benchmarks/stops.py --budgets {args.budgets} --seeds {args.seeds}` on `{EXAMPLE.relative_to(ROOT)}` "
        f"(60 jobs, 6 vans of capacity 80, a third of the jobs with 2-hour windows, 08:00-16:00 shift, fixed "
        f"cost 1800 per van; Oslo road matrices in seconds and metres). {len(seeds)} seeds per cell "
        "(pyvroom has no seed: its runs repeat the same search). Every plan is scored by nco's evaluator.",
        "",
        "- **nco cost**: nco's objective, fixed + whole route durations (driving, service, waiting).",
        "- **VROOM cost**: VROOM's objective, fixed + driving seconds, computed from the evaluator's schedule.",
        "- wall: the longest wall time of the cell's runs (pyvroom: its `timeout`; nco: `time_limit`).",
        "",
        "| budget (s) | method | feasible | nco cost mean | nco cost best | VROOM cost mean | VROOM cost best "
        "| routes | wall max (s) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for budget, method, feasible, mean, best, vmean, vbest, routes, wall in rows:
        lines.append(
            f"| {budget:g} | {method} | {feasible}/{len(seeds)} | {mean:.1f} | {best:.0f} | {vmean:.1f} "
            f"| {vbest:.0f} | {routes:.1f} | {wall:.2f} |"
        )
    lines += ["", describe()]
    publish(Path(args.out), "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""The profiled VRP (CAMP's PVRP-P and PVRP-ZC): the camp policy alone and the hybrid against
PyVRP and OR-Tools at equal wall-clock budgets, on real-city test instances.

    python benchmarks/camp.py                                   # 8 instances per variant, N = 100
    python benchmarks/camp.py --num-instances 32 --reference-time 10   # the issue's full run

Gap = (objective - reference objective) / reference travel cost, the reference being PyVRP at
``--reference-time`` seconds: with preferences the objective (travel minus preferences) can be
near or below zero, so it is measured against the travel cost. Every cost and feasibility comes
from nco's evaluator. ``--pareto`` adds the preference-vs-travel trade-off of PyVRP solutions
over the preference weight (PVRP-P, N = 50), as a table and a small plot.
Writes ``benchmarks/results/camp.md`` (+ ``camp.csv``, ``camp-pareto.png``).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import ROOT, describe, publish  # noqa: E402

import nco  # noqa: E402
from envs.cities import list_cities, load_city  # noqa: E402
from envs.generators import sample_instance  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
METHODS = ["neural", "hybrid", "pyvrp", "ortools"]


def instances(problem: str, size: int, count: int, **flags: float) -> list[nco.Instance]:
    """Test-split city instances (never seen in training), seeds 1000.. as the other benchmarks."""
    cities = [name for name in list_cities("test") if load_city(name).size > size]
    return [
        sample_instance(problem, size, city=cities[i % len(cities)], seed=1000 + i, **flags).replace(
            name=f"{cities[i % len(cities)]}-{problem}{size}-{i}"
        )
        for i in range(count)
    ]


def preference_collected(instance: nco.Instance, solution: nco.Solution) -> float:
    if instance.preference is None:
        return 0.0
    return float(sum(instance.preference[k, route].sum() for route, k in zip(solution.routes, solution.vehicle_types, strict=True)))


def travel_cost(instance: nco.Instance, solution: nco.Solution) -> float:
    """The objective without the preferences: what the routes cost to drive."""
    return solution.cost + preference_collected(instance, solution)


def zones_respected(instance: nco.Instance, solution: nco.Solution) -> bool:
    if instance.allowed is None:
        return True
    return all(bool(instance.allowed[k, route].all()) for route, k in zip(solution.routes, solution.vehicle_types, strict=True))


def run(problem: str, size: int, count: int, budgets: list[float], reference_time: float) -> list[dict]:
    rows = []
    for instance in instances(problem, size, count):
        reference = nco.solve(instance, method="pyvrp", time_limit=reference_time, seed=0)
        ref_travel = travel_cost(instance, reference)
        for method in METHODS:
            for budget in budgets:
                solution = nco.solve(instance, method=method, time_limit=budget, seed=0)
                rows.append(
                    dict(
                        problem=problem,
                        size=size,
                        instance=instance.name,
                        method=method,
                        budget=budget,
                        cost=solution.cost,
                        feasible=solution.feasible and zones_respected(instance, solution),
                        gap=100 * (solution.cost - reference.cost) / ref_travel,
                        runtime=solution.runtime,
                        neural_time=solution.info.get("neural_time", 0.0),
                        reference=reference.cost,
                        reference_travel=ref_travel,
                        checkpoint=Path(str(solution.info.get("checkpoint", ""))).name,
                    )
                )
        print(f"{instance.name}: reference {reference.cost:.2f} (travel {ref_travel:.2f})", flush=True)
    return rows


def table(rows: list[dict], budgets: list[float]) -> str:
    lines = []
    for problem in sorted({row["problem"] for row in rows}):
        mine = [row for row in rows if row["problem"] == problem]
        size, count = mine[0]["size"], len({row["instance"] for row in mine})
        checkpoint = next((row["checkpoint"] for row in mine if row["checkpoint"]), "none")
        lines += [f"### {problem.upper()}{size} ({count} test-city instances, checkpoint {checkpoint})", ""]
        lines += ["mean gap % (feasible share; mean wall s) | " + " | ".join(f"{b:g} s" for b in budgets), "|---" * (len(budgets) + 1) + "|"]
        for method in METHODS:
            cells = []
            for budget in budgets:
                cell = [row for row in mine if row["method"] == method and row["budget"] == budget]
                ok = [row for row in cell if row["feasible"]]
                gap = np.mean([row["gap"] for row in ok]) if ok else math.nan
                cells.append(f"{gap:.2f} ({len(ok)}/{len(cell)}; {np.mean([row['runtime'] for row in cell]):.3f})")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def pareto(count: int, weights: list[float], time_limit: float) -> tuple[str, list[tuple[float, float, float]]]:
    """Mean travel cost and preference collected by PyVRP over the preference weight (PVRP-P50)."""
    points = []
    for weight in weights:
        travel, collected = [], []
        for instance in instances("pvrp-p", 50, count, preference_weight=weight):
            solution = nco.solve(instance, method="pyvrp", time_limit=time_limit, seed=0)
            travel.append(travel_cost(instance, solution))
            # preferences at the default weight 0.2, so that points are comparable across weights
            collected.append(preference_collected(instance, solution) * (0.2 / weight) if weight else math.nan)
        points.append((weight, float(np.mean(travel)), float(np.mean(collected))))
    lines = [f"### Preference vs travel (PVRP-P50, {count} instances, PyVRP {time_limit:g} s)", "",
             "| preference weight | mean travel (min) | mean preference served (at weight 0.2) |", "|---|---|---|"]
    lines += [f"| {w:g} | {t:.2f} | {p:.2f} |" for w, t, p in points]
    return "\n".join(lines) + "\n", points


def plot(points: list[tuple[float, float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nco_core.io import atomic_path

    shown = [p for p in points if not math.isnan(p[2])]
    figure, axis = plt.subplots(figsize=(4, 3))
    axis.plot([p[1] for p in shown], [p[2] for p in shown], "o-")
    for weight, travel, collected in shown:
        axis.annotate(f"w={weight:g}", (travel, collected), fontsize=7)
    axis.set_xlabel("travel time (min)")
    axis.set_ylabel("preference served")
    axis.set_title("PVRP-P50: PyVRP over the preference weight", fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default="pvrp-p,pvrp-zc")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--num-instances", type=int, default=8)
    parser.add_argument("--budgets", default="0.1,0.5,1")
    parser.add_argument("--reference-time", type=float, default=10.0)
    parser.add_argument("--pareto", default="0,0.1,0.2,0.4,0.8", help="preference weights ('' = no Pareto run)")
    parser.add_argument("--out", default=str(RESULTS / "camp.md"))
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    rows = []
    for problem in args.variants.split(","):
        rows += run(problem, args.size, args.num_instances, budgets, args.reference_time)
    out = Path(args.out)
    text = [
        "# Profiled VRP (CAMP): camp policy, hybrid, PyVRP and OR-Tools", "",
        f"Gap = (objective - PyVRP {args.reference_time:g} s objective) / its travel cost, in %; feasible = evaluator-feasible"
        " and every route inside its type's zones. Budgets are wall-clock per solve (the neural row: starts sized to the budget).", "",
        describe(), "", f"Command: `python benchmarks/{Path(__file__).name} " + " ".join(sys.argv[1:]) + "`", "",
        table(rows, budgets),
    ]  # fmt: skip
    if args.pareto:
        section, points = pareto(4, [float(w) for w in args.pareto.split(",")], 1.0)
        text.append(section)
        plot(points, out.with_name(out.stem + "-pareto.png"))
        text.append(f"![pareto]({out.stem}-pareto.png)\n")
    from nco_core.io import atomic_path

    with atomic_path(out.with_suffix(".csv")) as temp, open(temp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    publish(out, "\n".join(text))


if __name__ == "__main__":
    main()

"""Latency: do budgets hold, and how fast is neural construction?

    python benchmarks/latency.py                                   # both sections
    python benchmarks/latency.py --section honesty --instances 2 --budgets 0.01,0.1
    python benchmarks/latency.py --section honesty --problem acvrptw      # another variant's table
    python benchmarks/latency.py --section neural --sizes 50,100,200,1000 --label after-fast-path

Section ``honesty``: every method x budget on real-city ACVRP100 instances (``--problem``: another
variant, one table each) from test-split city pools (``nco.sample_instance("acvrp", 100,
city=..., seed=...)``, one city per instance). Wall
time from the ``nco.solve`` call to its return; one warm-up call per method first (imports,
checkpoint loading and calibration are one-time costs that budgets exclude). Reported: max and
median wall / limit per method and budget, and how many runs kept the contract
``wall <= 1.05 * limit + 0.01 s``.

Section ``neural``: wall time of ``nco.solve(method="neural", starts=S)`` for S = 1, 16 and every
customer at each size (``N`` customers; a pool needs N + 1 distinct points, so N = 1000 means 999
customers on a 1000-point pool, the largest shipped), median over ``--repeats`` calls per
instance, with the mean cost so that speed-ups can be checked for equal quality. Results are
kept per ``--label`` (default: the git commit) in ``benchmarks/results/latency.json``, so a
re-run after a change adds a column next to the earlier one.

Both sections write ``benchmarks/results/latency.md`` (via ``machine.publish``), re-rendered
from the JSON so running one section keeps the other's last figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import ROOT, describe, publish  # noqa: E402

import nco  # noqa: E402
from nco_core.io import atomic_path  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("pyvrp", "ortools", "vroom", "hybrid", "neural")
BUDGETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
SIZES = (50, 100, 200, 1000)
STARTS = ("1", "16", "all")
NEURAL_LIMIT = 600.0  # explicit starts decode exactly that whatever the budget; this only bounds a runaway


def allowed(limit: float) -> float:
    """The contract of issue 11: wall time at most this."""
    return 1.05 * limit + 0.01


def cities_for(customers: int) -> list[str]:
    """Test-split pools large enough, else any pool large enough (latency, not quality)."""
    for split in ("test", "all"):
        names = [name for name in nco.list_cities(split=split) if nco.load_city(name).size > customers]
        if names:
            return names
    raise SystemExit(f"no city pool has more than {customers} points")


def instances(customers: int, count: int, seed: int, problem: str = "acvrp") -> list[nco.Instance]:
    names = cities_for(customers)
    return [nco.sample_instance(problem, customers, city=names[i % len(names)], seed=seed + i) for i in range(count)]


def timed(instance: nco.Instance, method: str, limit: float, **options) -> tuple[float, nco.Solution]:
    began = time.perf_counter()
    solution = nco.solve(instance, method, time_limit=limit, seed=0, **options)
    return time.perf_counter() - began, solution


def timed_cpu(instance: nco.Instance, method: str, limit: float) -> tuple[float, float]:
    """Wall and CPU seconds of one call: on a shared machine, wall >> CPU means the call waited
    for a core (load), CPU > limit means the method itself overran."""
    cpu = time.process_time()
    wall, _ = timed(instance, method, limit)
    return wall, time.process_time() - cpu


def honesty(args: argparse.Namespace) -> dict:
    cases = instances(100, args.instances, args.seed, args.problem)
    methods = args.methods.split(",")
    budgets = [float(b) for b in args.budgets.split(",")]
    for method in methods:  # one-time costs outside the measurement
        timed(cases[0], method, 0.05)
    ratios: dict[str, dict[str, list[float]]] = {m: {str(b): [] for b in budgets} for m in methods}
    cpu_ratios: dict[str, dict[str, list[float]]] = {m: {str(b): [] for b in budgets} for m in methods}
    kept: dict[str, dict[str, int]] = {m: {str(b): 0 for b in budgets} for m in methods}
    for instance in cases:  # methods take turns, so load drift on a shared machine hits them alike
        for limit in budgets:
            for method in methods:
                wall, cpu = timed_cpu(instance, method, limit)
                ratios[method][str(limit)].append(wall / limit)
                cpu_ratios[method][str(limit)].append(cpu / limit)
                kept[method][str(limit)] += wall <= allowed(limit)
    return {
        "instances": [c.name for c in cases],
        "budgets": budgets,
        "methods": methods,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "kept": kept,
        "machine": describe(),
    }


def neural(args: argparse.Namespace) -> dict:
    rows = {}
    for size in (int(s) for s in args.sizes.split(",")):
        customers = min(size, max(nco.load_city(c).size for c in nco.list_cities(split="all")) - 1)
        cases = instances(customers, args.instances, args.seed)
        timed(cases[0], "neural", NEURAL_LIMIT, starts=1)  # loading and calibration
        for label in args.starts.split(","):
            if label == "all" and customers > args.max_all_size:
                rows[f"{customers}/{label}"] = {"skipped": f"N > --max-all-size {args.max_all_size}"}
                continue
            starts = customers if label == "all" else int(label)
            walls, costs = [], []
            for instance in cases:
                runs = [timed(instance, "neural", NEURAL_LIMIT, starts=starts) for _ in range(args.repeats)]
                walls.append(statistics.median(w for w, _ in runs))
                costs.append(runs[0][1].cost)
            rows[f"{customers}/{label}"] = {
                "median_s": statistics.median(walls),
                "max_s": max(walls),
                "mean_cost": statistics.fmean(costs),
                "instances": len(cases),
            }
    return {"rows": rows, "machine": describe(), "repeats": args.repeats}


def render(results: dict) -> str:
    lines = ["# Latency: budget honesty and neural construction time", ""]
    lines += ["Produced by `python benchmarks/latency.py` (options in its docstring).", ""]
    for problem, h in results.get("honesty", {}).items():
        lines += [
            f"## Budget honesty on {problem.upper()}100 (wall time from `nco.solve` call to return / time limit)",
            "",
            h["machine"],
            f"{len(h['instances'])} real-city {problem.upper()}100 instances ({', '.join(h['instances'])}); each cell: "
            "max / median of wall / limit, how many runs kept `wall <= 1.05 limit + 0.01 s`, and in brackets the "
            "max CPU time / limit of the process (wall well above CPU = the call waited for a core on this shared "
            "machine; the load average above says how busy it was). "
            "`neural` sizes its starts to the budget; budgets below one rollout are decoded anyway "
            "and flagged `budget_exceeded` (outside the contract, which covers pyvrp, ortools, vroom, hybrid).",
            "",
            "| method | " + " | ".join(f"{b:g} s (<= {allowed(b) / b:.2f})" for b in h["budgets"]) + " |",
            "|---|" + "---|" * len(h["budgets"]),
        ]
        for method in h["methods"]:
            cells = []
            for b in h["budgets"]:
                r, c = h["ratios"][method][str(b)], h["cpu_ratios"][method][str(b)]
                cells.append(
                    f"{max(r):.2f} / {statistics.median(r):.2f}, {h['kept'][method][str(b)]}/{len(r)} ({max(c):.2f})"
                )
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    if "neural" in results:
        runs = results["neural"]
        labels = list(runs)
        keys = list(dict.fromkeys(k for label in labels for k in runs[label]["rows"]))
        lines += [
            '## Neural construction latency (`nco.solve(method="neural", starts=S)`, one instance per call)',
            "",
            *[f"- `{label}`: {runs[label]['machine'].strip().replace(chr(10), '; ')}" for label in labels],
            "",
            "Each cell: median / max over instances of the per-instance median wall time (s), and the mean cost "
            "(same instances in every column, so equal cost = equal quality). Real-city ACVRP instances; "
            "N = customers.",
            "",
            "| N | starts | " + " | ".join(f"`{label}`" for label in labels) + " |",
            "|---|---|" + "---|" * len(labels),
        ]
        for key in keys:
            size, starts = key.split("/")
            cells = []
            for label in labels:
                row = runs[label]["rows"].get(key)
                if row is None:
                    cells.append("—")
                elif "skipped" in row:
                    cells.append(f"not run ({row['skipped']})")
                else:
                    cells.append(f"{row['median_s']:.3f} / {row['max_s']:.3f} s, cost {row['mean_cost']:.2f}")
            lines.append(f"| {size} | {starts} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=("all", "honesty", "neural"), default="all")
    parser.add_argument("--methods", default=",".join(METHODS), help="honesty: comma-separated methods")
    parser.add_argument("--problem", default="acvrp", help="honesty: the variant (acvrp, acvrptw, ...)")
    parser.add_argument("--budgets", default=",".join(f"{b:g}" for b in BUDGETS), help="honesty: seconds")
    parser.add_argument("--instances", type=int, default=4, help="instances per size (one city each)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="neural: customers per instance")
    parser.add_argument("--starts", default=",".join(STARTS), help="neural: POMO starts ('all' = every customer)")
    parser.add_argument("--max-all-size", type=int, default=200, help="neural: largest N decoded from every start")
    parser.add_argument("--repeats", type=int, default=3, help="neural: calls per instance (median kept)")
    parser.add_argument("--label", default="", help="neural: column name (default: the git commit)")
    parser.add_argument("--out", default=str(RESULTS / "latency.md"))
    args = parser.parse_args()

    store = Path(args.out).with_suffix(".json")
    results = json.loads(store.read_text()) if store.exists() else {}
    if args.section in ("all", "honesty"):
        results.setdefault("honesty", {})[args.problem] = honesty(args)
    if args.section in ("all", "neural"):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        results.setdefault("neural", {})[args.label or commit.stdout.strip()] = neural(args)
    with atomic_path(store) as temp:
        Path(temp).write_text(json.dumps(results, indent=1))
    publish(Path(args.out), render(results))


if __name__ == "__main__":
    main()

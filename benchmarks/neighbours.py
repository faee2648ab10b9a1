"""PyVRP with learned vs proximity neighbourhoods at equal wall-clock time, and neighbour recall.

    python benchmarks/neighbours.py                         # 12 ACVRP100 test-city instances
    python benchmarks/neighbours.py --problem acvrptw --num-instances 8

Every row is nco's ``pyvrp`` method (same ILS, same seeds, same warm-up), only the local search's
neighbour lists differ:
- ``proximity``: PyVRP's default (``compute_neighbours``, k = 50);
- ``learned``: ``neighbours="learned"`` (the shipped arc scorer; its inference is inside the budget);
- ``learned k=K head=H``: the same scorer with other list shapes (lists computed outside the
  solver, the measured inference time taken off the budget so it is still charged);
- ``proximity k=K``: PyVRP's lists cut to K (a shorter list alone speeds up the search: the control
  for the learned rows of the same length);
- ``oracle``: the reference solution's predecessor and successor first, then proximity, k = 10.
  It knows the answer, so it only bounds what a learned list can buy.
Instances are the hybrid benchmark's (test-split cities, seeds 1000 + i), references are PyVRP
10 s solutions (routes cached under ~/.cache/nco/neighbours/), gap = mean(cost / reference - 1).
Writes ``benchmarks/results/neighbours-PROBLEMSIZE.md`` (``neighbours.md`` sums them up).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid import city_instances  # noqa: E402
from machine import ROOT, describe, publish  # noqa: E402

import nco  # noqa: E402
from nco.methods.neighbours import problem_of, scorer_for  # noqa: E402
from nco_core.io import atomic_path  # noqa: E402
from solvers.neighbours import learned, proximity, recall  # noqa: E402
from solvers.pyvrp_solver import build_data, solver_params  # noqa: E402
from solvers.scaling import integer_data  # noqa: E402

CACHE = Path.home() / ".cache" / "nco" / "neighbours"


def reference(instance: nco.Instance, time_limit: float) -> nco.Solution:
    """PyVRP's ``time_limit`` s solution (seed 0), cached by instance data."""
    digest = hashlib.sha1(f"{time_limit}".encode())
    for value in (instance.distance, instance.duration, instance.demand, instance.time_windows):
        if value is not None:
            digest.update(np.ascontiguousarray(value).tobytes())
    path = CACHE / f"{digest.hexdigest()}.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return nco.Solution.of(instance, stored["routes"], stored["vehicle_types"], method="pyvrp")
    solution = nco.solve(instance, method="pyvrp", time_limit=time_limit, seed=0)
    CACHE.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp:
        Path(temp).write_text(json.dumps({"routes": solution.routes, "vehicle_types": solution.vehicle_types}))
    return solution


def oracle_lists(data, params, routes: list[list[int]], k: int = 10) -> np.ndarray:
    """Each client's route neighbours (predecessor, successor) first, then proximity order."""
    wide = proximity(data, params, k + 2)
    rows = []
    for client, row in enumerate(wide, start=1):
        first = [
            j
            for route in routes
            for p, c in enumerate(route)
            if c == client
            for j in (route[p - 1] if p > 0 else 0, route[p + 1] if p + 1 < len(route) else 0)
            if j
        ]
        rows.append((first + [j for j in row if j not in first])[:k])
    return np.array(rows, dtype=np.int64)


def model_of(instance: nco.Instance):
    scaled = integer_data(instance)
    data = build_data(instance, scaled)
    return data, solver_params(scaled).neighbourhood


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="acvrp")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--num-instances", type=int, default=12)
    parser.add_argument("--budgets", default="0.05,0.1,0.2,0.5,1")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--reference-time", type=float, default=10.0)
    parser.add_argument("--variants", default="20:10,50:5", help="extra learned lists K:HEAD, comma-separated")
    parser.add_argument("--proximity-k", default="20", help="control rows: proximity lists of these lengths")
    parser.add_argument("--no-oracle", dest="oracle", action="store_false")
    parser.add_argument("--out", help="default benchmarks/results/neighbours-PROBLEMSIZE.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    budgets = [float(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    instances = city_instances(args.problem, args.size, args.num_instances)
    started = time.perf_counter()
    references = [reference(instance, args.reference_time) for instance in instances]
    reference_seconds = time.perf_counter() - started
    scorer = scorer_for(problem_of(instances[0].features()))
    variants = [tuple(int(x) for x in v.split(":")) for v in args.variants.split(",") if v]

    # recall of the reference arcs in the first 5 / 10 list entries
    recalls: dict[str, list[list[float]]] = {}
    inference, inference_cpu = [], []
    for instance, ref in zip(instances, references, strict=True):
        data, params = model_of(instance)
        tic, cpu = time.perf_counter(), time.process_time()
        mine = learned(data, params, scorer, k=10, head=10)
        inference.append(time.perf_counter() - tic)
        inference_cpu.append(time.process_time() - cpu)
        for name, lists in (("proximity", proximity(data, params, 10)), ("learned", mine)):
            recalls.setdefault(name, []).append(
                [recall(lists, ref.routes, top, successor_only=succ) for succ in (True, False) for top in (5, 10)]
            )

    configs: list[tuple[str, object]] = [("proximity", "proximity"), ("learned", "learned")]
    configs += [(f"proximity k={k}", k) for k in (int(v) for v in args.proximity_k.split(",") if v)]
    configs += [(f"learned k={k} head={h}", (k, h)) for k, h in variants]
    if args.oracle:
        configs.append(("oracle (pred+succ first, k=10)", "oracle"))
    gaps: dict[tuple[str, float], list[float]] = {}
    times: dict[str, list[float]] = {}
    for instance, ref in zip(instances, references, strict=True):
        for budget in budgets:
            for seed in seeds:
                for name, config in configs:
                    limit, lists = budget, config
                    if not isinstance(config, str) or config == "oracle":
                        data, params = model_of(instance)
                        tic = time.perf_counter()
                        if isinstance(config, int):
                            lists = proximity(data, params, config)
                        elif config == "oracle":
                            lists = oracle_lists(data, params, ref.routes)
                        else:
                            lists = learned(data, params, scorer, k=config[0], head=config[1])
                            limit = max(budget - (time.perf_counter() - tic), 1e-3)  # charged, as inside the solver
                    solution = nco.solve(instance, method="pyvrp", time_limit=limit, seed=seed, neighbours=lists)
                    if not solution.feasible:
                        raise RuntimeError(f"{instance.name} {name} {budget}: infeasible ({solution.violations})")
                    gaps.setdefault((name, budget), []).append(100 * (solution.cost / ref.cost - 1))
                    times.setdefault(name, []).append(solution.info["neighbours_time"])

    lines = [
        f"# PyVRP local search: learned vs proximity neighbourhoods ({args.problem.upper()}{args.size})",
        "",
        f"Written by `benchmarks/neighbours.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. {len(instances)} real-city test instances (test-split cities, "
        f"never trained on), seeds {seeds}; gap = mean(cost / PyVRP {args.reference_time:g} s - 1) in %, "
        f"computed by nco's evaluator. All rows are nco's `pyvrp` method; only the neighbour lists differ.",
        "",
        "| neighbours | " + " | ".join(f"{b:g} s" for b in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for name, _ in configs:
        row = [
            f"{np.mean(gaps[name, b]):.2f} ± {np.std(gaps[name, b]) / np.sqrt(len(gaps[name, b])):.2f}" for b in budgets
        ]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    lines += [
        "",
        "± is the standard error over instances x seeds. Learned-list inference (features + scorer, one "
        f"thread): median {1000 * np.median(inference):.1f} ms wall ({1000 * np.median(inference_cpu):.1f} ms CPU) "
        "per instance, charged to every learned budget.",
        "",
        "## Recall of the reference solution's arcs in each client's list",
        "",
        "| list | succ top-5 | succ top-10 | pred+succ top-5 | pred+succ top-10 |",
        "|---|---|---|---|---|",
    ]
    for name, values in recalls.items():
        mean = 100 * np.mean(values, axis=0)
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f} %" for v in mean) + " |")
    lines += [
        "",
        f"Scorer: `data/checkpoints/arcs/{problem_of(instances[0].features())}.pt`; references took "
        f"{reference_seconds:.0f} s (0 when cached).",
        "",
        describe(),
    ]
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"neighbours-{args.problem}{args.size}.md")
    publish(out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``nco solve FILE``: read an instance, solve it with one method, print the evaluated solution."""

from __future__ import annotations

import argparse
import json
import sys

from nco.api import solve
from nco_core.io import read, write


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solve", help="solve one instance file (VRPLIB, Solomon or nco JSON)",
        epilog="exit status: 0 the evaluator accepts the solution, 1 infeasible, 2 bad input, usage or a feature "
               "the method cannot model, 3 internal error (one line on stderr; --debug adds the traceback)")
    parser.add_argument("file", help="instance file: .vrp/.txt (VRPLIB, CVRPLIB, Solomon) or nco .json")
    parser.add_argument("--method", default="pyvrp", help="pyvrp (default), ortools, vroom, neural, hybrid")
    parser.add_argument("--refiner", help="hybrid: pyvrp (default), ga, ortools or vroom")
    parser.add_argument("--time-limit", type=float, default=1.0, metavar="S", help="wall-clock seconds (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", metavar="PT", help="neural: policy checkpoint (default: the shipped one that fits)")
    parser.add_argument(
        "--samples", type=int, metavar="K", help="neural: sampled rollouts on top of greedy POMO; hybrid: neural candidates"
    )
    parser.add_argument("--augment", action="store_true", help="neural: decode 8 symmetric copies of the coordinates")
    parser.add_argument(
        "--starts", type=int, metavar="S", help="neural: POMO starts (default every customer; fewer decode faster at large N)"
    )
    parser.add_argument(
        "--neighbours", choices=["proximity", "learned"],
        help="pyvrp / hybrid with the pyvrp refiner: PyVRP's local-search neighbour lists (default proximity)",
    )
    parser.add_argument("--json", action="store_true", help="print the solution as JSON")
    parser.add_argument("--out", metavar="PATH", help="also write the solution (.sol for VRPLIB, .json for nco)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    instance = read(args.file)
    given = {"checkpoint": args.checkpoint, "samples": args.samples, "augment": args.augment or None, "starts": args.starts, "refiner": args.refiner, "neighbours": args.neighbours}
    options = {key: value for key, value in given.items() if value is not None}
    solution = solve(instance, method=args.method, time_limit=args.time_limit, seed=args.seed, **options)
    if args.json:
        print(json.dumps(solution.to_dict(), indent=1))
    else:
        print(f"{instance!r}")
        print(solution)
        if instance.best_known_cost:
            gap = 100 * (solution.cost - instance.best_known_cost) / instance.best_known_cost
            print(f"best known {instance.best_known_cost:.6g}, gap {gap:.2f}%")
        print(f"time {solution.runtime:.2f} s")
        for r, route in enumerate(solution.routes):
            print(f"  route {r + 1} (vehicle type {solution.vehicle_types[r]}): {' '.join(map(str, route))}")
    if args.out:
        write(solution, args.out)
    # scripts can rely on the exit status: 0 only when the evaluator accepts the solution
    if solution.feasible:
        return 0
    first = solution.violations[0].message if solution.violations else "no solution"
    print(f"nco solve: infeasible: {len(solution.violations)} violation(s), first: {first}", file=sys.stderr)
    return 1

"""``nco solve FILE``: read an instance, solve it with one method, print the evaluated solution.

A user's stops (a VROOM problem JSON, or a stops CSV with ``--vehicles fleet.csv``) get their road
matrices from the file or from OSRM (``--osrm-url`` / ``--pbf``), and the plan can be written as a
VROOM-format solution (``--out``), an offline HTML map, GeoJSON and a PNG. Every output is computed
before the first is written, and each is written atomically, so a failure leaves none half-written.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

from nco.api import solve
from nco_core.instance import Instance
from nco_core.io import is_stops_file, read, read_problem, write
from nco_core.solution import Solution
from nco_core.stops import Problem


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solve",
        help="solve one instance file (VRPLIB, Solomon or nco JSON)",
        epilog="exit status: 0 the evaluator accepts the solution, 1 infeasible, 2 bad input, usage or a feature "
        "the method cannot model, 3 internal error (one line on stderr; --debug adds the traceback)",
    )
    parser.add_argument(
        "file",
        help="instance file: .vrp/.txt (VRPLIB, CVRPLIB, Solomon), nco .json, a VROOM problem .json, or a stops .csv",
    )
    parser.add_argument(
        "--vehicles",
        metavar="CSV",
        help="stops CSV: the fleet CSV (default: the first stop is the depot of an unlimited, uncapacitated fleet)",
    )
    road = parser.add_mutually_exclusive_group()
    road.add_argument("--osrm-url", metavar="URL", help="stops: road matrices and route lines from this OSRM server")
    road.add_argument(
        "--pbf",
        metavar="EXTRACT",
        help="stops: ... from a local osrm-routed built from this OSM extract (cached by its sha256)",
    )
    parser.add_argument("--map", metavar="HTML", help="stops: write an interactive map (renders offline)")
    parser.add_argument("--geojson", metavar="PATH", help="stops: write the routes and stops as GeoJSON")
    parser.add_argument("--png", metavar="PATH", help="stops: write a static picture of the routes")
    parser.add_argument("--no-tiles", action="store_true", help="--map: never load OpenStreetMap tiles")
    parser.add_argument("--method", default="pyvrp", help="pyvrp (default), ortools, vroom, neural, hybrid")
    parser.add_argument("--refiner", help="hybrid: pyvrp (default), ga, ortools or vroom")
    parser.add_argument("--time-limit", type=float, default=1.0, metavar="S", help="wall-clock seconds (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--checkpoint", metavar="PT", help="neural: policy checkpoint (default: the shipped one that fits)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        metavar="K",
        help="neural, hybrid: sampled rollouts decoded on top of the greedy POMO starts (default 0)",
    )
    parser.add_argument("--augment", action="store_true", help="neural: decode 8 symmetric copies of the coordinates")
    parser.add_argument(
        "--starts",
        type=int,
        metavar="S",
        help="neural: greedy POMO starts (default: as many as fit in the time limit); hybrid: the "
        "most starts seeding the refiner (default 16)",
    )
    parser.add_argument(
        "--neighbours",
        choices=["proximity", "learned", "auto"],
        help="pyvrp / hybrid with the pyvrp or ga refiner: PyVRP's local-search neighbour lists (default: proximity "
        "for pyvrp; auto for hybrid, i.e. learned from 0.05 s of budget on the variants the arc scorers learned with "
        "the pyvrp refiner, proximity with ga)",
    )
    parser.add_argument("--json", action="store_true", help="print the solution as JSON")
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="also write the solution (.sol for VRPLIB, .json for nco; VROOM's solution format for stops)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stops = is_stops_file(args.file) or Path(args.file).suffix.lower() == ".csv"
    drawn = [
        flag
        for flag, value in (
            ("--vehicles", args.vehicles),
            ("--osrm-url", args.osrm_url),
            ("--pbf", args.pbf),
            ("--map", args.map),
            ("--geojson", args.geojson),
            ("--png", args.png),
        )
        if value
    ]
    if drawn and not stops:
        raise ValueError(f"{drawn[0]} needs stops: a VROOM problem .json or a stops .csv, not {args.file}")
    with ExitStack() as stack:
        client = None
        if args.osrm_url or args.pbf:
            from envs.osrm.stops import osrm

            client = stack.enter_context(osrm(args.osrm_url, args.pbf))
        problem = read_problem(args.file, args.vehicles) if stops else None
        if problem is not None and problem.matrices is None and client is not None:
            from envs.osrm.stops import road_problem

            problem = road_problem(problem, client)
        instance = problem.instance if problem is not None else read(args.file)
        solution = _solve(instance, args)
        _report(instance, solution, problem, args)
        outputs = _outputs(problem, solution, client, args) if problem is not None else {}
    if args.out and problem is not None:
        write(solution, args.out, format="vroom" if Path(args.out).suffix == ".json" else None, problem=problem)
    elif args.out:
        write(solution, args.out)
    for write_output in outputs.values():
        write_output()
    # scripts can rely on the exit status: 0 only when the evaluator accepts the solution
    if solution.feasible:
        return 0
    first = solution.violations[0].message if solution.violations else "no solution"
    print(f"nco solve: infeasible: {len(solution.violations)} violation(s), first: {first}", file=sys.stderr)
    return 1


def _solve(instance: Instance, args: argparse.Namespace) -> Solution:
    given = {
        "checkpoint": args.checkpoint,
        "samples": args.samples,
        "augment": args.augment or None,
        "starts": args.starts,
        "refiner": args.refiner,
        "neighbours": args.neighbours,
    }
    options = {key: value for key, value in given.items() if value is not None}
    return solve(instance, method=args.method, time_limit=args.time_limit, seed=args.seed, **options)


def _report(instance: Instance, solution: Solution, problem: Problem | None, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(solution.to_dict(), indent=1))
        return
    print(f"{instance!r}")
    print(solution)
    if instance.best_known_cost:
        gap = 100 * (solution.cost - instance.best_known_cost) / instance.best_known_cost
        print(f"best known {instance.best_known_cost:.6g}, gap {gap:.2f}%")
    print(f"time {solution.runtime:.2f} s")
    if problem is not None:
        from nco_core.vroom_io import vroom_solution

        plan = vroom_solution(problem, solution)
        for r, route in enumerate(plan["routes"]):
            jobs = [str(step["id"]) for step in route["steps"] if step["type"] == "job"]
            print(f"  route {r + 1} (vehicle {route['vehicle']}): {' '.join(jobs)}")
        if plan["unassigned"]:
            print(f"  unassigned: {' '.join(str(job['id']) for job in plan['unassigned'])}")
        return
    for r, route in enumerate(solution.routes):
        print(f"  route {r + 1} (vehicle type {solution.vehicle_types[r]}): {' '.join(map(str, route))}")


def _outputs(problem: Problem, solution: Solution, client: object, args: argparse.Namespace) -> dict:
    """The map files to write, each a callable, once the road lines (the part that can fail) are known."""
    if not (args.map or args.geojson or args.png):
        return {}
    from envs.osrm.stops import route_lines
    from nco import plot

    lines = route_lines(problem, solution, client)  # type: ignore[arg-type]
    outputs = {}
    if args.map:
        outputs["map"] = lambda: plot.map(problem, solution, args.map, lines, tiles=not args.no_tiles)
    if args.geojson:
        outputs["geojson"] = lambda: plot.write_geojson(problem, solution, args.geojson, lines)
    if args.png:
        outputs["png"] = lambda: plot.png(problem, solution, args.png, lines)
    return outputs

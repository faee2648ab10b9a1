"""``nco compare``: methods side by side on files or on sampled real-city instances."""

from __future__ import annotations

import argparse
from pathlib import Path

from nco.compare import compare
from nco.instance import Instance
from nco.io import read


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare methods over instances and time budgets (CSV, markdown summary, gap-vs-time plot)",
        description="Give instance files, or --problem/--size to sample instances from city pools.",
    )
    parser.add_argument("files", nargs="*", help="instance files (VRPLIB, Solomon, nco JSON)")
    parser.add_argument("--problem", help="preset to sample, e.g. acvrp, acvrptw, atsp (instead of files)")
    parser.add_argument("--size", type=int, default=50, help="customers per sampled instance (default 50)")
    parser.add_argument("--cities", default="test", help="city split to sample from: train, test or all (default test)")
    parser.add_argument("--num-instances", type=int, default=8, help="sampled instances (default 8)")
    parser.add_argument("--methods", default="pyvrp,ortools,vroom", help="comma-separated methods; hybrid:REFINER picks the refiner (pyvrp, ga, ortools, vroom)")
    parser.add_argument("--time-limits", default="1", help="comma-separated budgets in seconds (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results", help="output directory (default results/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.files) == bool(args.problem):
        raise ValueError("give either instance files or --problem (to sample from city pools), not both")
    instances = [read(path) for path in args.files] if args.files else _sampled(args)
    table = compare(
        instances,
        methods=[m.strip() for m in args.methods.split(",") if m.strip()],
        time_limits=[float(t) for t in args.time_limits.split(",")],
        seed=args.seed,
    )
    paths = table.write(Path(args.out))
    print(table.markdown())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _sampled(args: argparse.Namespace) -> list[Instance]:
    from envs.cities import list_cities
    from envs.generators import sample_instance

    cities = list_cities(split=args.cities)
    if not cities:
        raise ValueError(f"no city pools in split {args.cities!r}; see `nco data cities`")
    return [
        sample_instance(args.problem, args.size, city=cities[i % len(cities)], seed=args.seed + i)
        for i in range(args.num_instances)
    ]

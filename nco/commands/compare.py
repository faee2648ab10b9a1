"""``nco compare``: methods side by side on files or on sampled real-city instances.

In one process by default; ``--workers N`` / ``--scheduler ADDRESS`` run the same tasks on the
batch engine of ``nco solve-many`` (Dask; rows stream to OUT/results.csv, re-runs resume).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nco.batch.tasks import Recipe
from nco.commands.solve_many import add_cluster_arguments, add_instance_arguments, sources, split
from nco.compare import compare, table_from_batch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare methods over instances and time budgets (CSV, markdown summary, gap-vs-time plot)",
        description="Give instance files, or --problem/--size to sample instances from city pools.",
    )
    add_instance_arguments(parser, default_instances=8)
    parser.add_argument(
        "--methods",
        default="pyvrp,ortools,vroom",
        help="comma-separated configurations METHOD[:REFINER][+OPTION=VALUE...]: hybrid:ga picks "
        "the refiner (pyvrp, ga, ortools, vroom), pyvrp+neighbours=learned sets an option",
    )
    parser.add_argument("--time-limits", default="1", help="comma-separated budgets in seconds (default 1)")
    add_cluster_arguments(parser)
    parser.add_argument("--out", default="results", help="output directory (default results/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    given = sources(args)
    methods, budgets = split(args.methods), [float(t) for t in split(args.time_limits)]
    if args.workers is None and args.scheduler is None:
        instances = [s.build() if isinstance(s, Recipe) else s for s in given]
        table = compare(instances, methods=methods, time_limits=budgets, seed=args.seed, progress=args.progress)
    else:
        from nco.batch import plan, run_batch

        result = run_batch(
            plan(given, methods, budgets, args.seed), {s.name: s for s in given}, args.out,
            workers=args.workers, scheduler=args.scheduler, retry_errors=args.retry_errors, progress=args.progress,
        )  # fmt: skip
        if result.interrupted:
            print(
                f"interrupted after {len(result.rows)} of "
                f"{len(given) * len(methods) * len(budgets)} runs; the same command resumes"
            )
            return 130
        table = table_from_batch(result.rows)
    paths = table.write(Path(args.out))
    print(table.markdown())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0

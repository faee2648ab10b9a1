"""``nco solve-many``: many instances x methods x budgets on Dask, streamed, resumable.

Also the home of the instance-selection and cluster options that ``nco compare`` shares.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nco.batch.tasks import Recipe, Source
from nco_core.io import read


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solve-many",
        help="solve many instances on a Dask cluster (embedded by default); rows stream to "
        "OUT/results.csv, re-runs resume",
        description="Give instance files, or --problem/--size to sample instances from city pools. Every finished task "
        "appends a row to OUT/results.csv and writes OUT/solutions/<instance>__<method>__<budget>.json; the same --out "
        "skips finished tasks. OUT/summary.{csv,md,png} recompute every gap over the batch at the end. Exit status: "
        "0 all tasks have a row, 1 some task recorded an error, 130 interrupted (the same command resumes).",
    )
    add_instance_arguments(parser, default_instances=100)
    parser.add_argument(
        "--method",
        default="pyvrp",
        help="method, or comma-separated configurations METHOD[:REFINER][+OPTION=VALUE...] (as in nco compare)",
    )
    parser.add_argument(
        "--time-limit", default="1", metavar="S", help="budget in seconds, or comma-separated budgets (default 1)"
    )
    add_cluster_arguments(parser)
    parser.add_argument("--out", required=True, help="output directory; re-running with the same one resumes")
    parser.set_defaults(func=run)


def add_instance_arguments(parser: argparse.ArgumentParser, default_instances: int) -> None:
    parser.add_argument("files", nargs="*", help="instance files (VRPLIB, Solomon, nco JSON)")
    parser.add_argument("--problem", help="preset to sample, e.g. acvrp, acvrptw, atsp (instead of files)")
    parser.add_argument("--size", type=int, default=50, help="customers per sampled instance (default 50)")
    parser.add_argument("--cities", default="test", help="city split to sample from: train, test or all (default test)")
    parser.add_argument(
        "--num-instances", type=int, default=default_instances, help=f"sampled instances (default {default_instances})"
    )
    parser.add_argument("--seed", type=int, default=0, help="solver seed; sampled instance i uses seed + i")


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the embedded cluster, one thread each (default: one per core)",
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster, e.g. tcp://host:8786")
    parser.add_argument(
        "--retry-errors", action="store_true", help="on resume, also re-run tasks whose row records an error"
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def sources(args: argparse.Namespace) -> list[Source]:
    """Instances read from the files, or recipes for sampled ones (built on the workers)."""
    if bool(args.files) == bool(args.problem):
        raise ValueError("give either instance files or --problem (to sample from city pools), not both")
    if args.files:
        return [read(path) for path in args.files]
    from envs.cities import city_infos
    from envs.presets import variant

    variant(args.problem)  # an unknown preset fails here, not in every task
    cities = [info.name for info in city_infos(args.cities) if info.points > args.size]
    if not cities:
        raise ValueError(
            f"no city pool in split {args.cities!r} has more than {args.size} points; see `nco data cities`"
        )
    if args.num_instances < 1 or args.size < 1:
        raise ValueError(f"need --num-instances >= 1 and --size >= 1, got {args.num_instances} and {args.size}")
    return [Recipe(args.problem, args.size, cities[i % len(cities)], args.seed + i) for i in range(args.num_instances)]


def split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def run(args: argparse.Namespace) -> int:
    from nco.batch import plan, run_batch
    from nco.compare import table_from_batch

    given = sources(args)
    tasks = plan(given, split(args.method), [float(t) for t in split(args.time_limit)], args.seed)
    result = run_batch(
        tasks, {s.name: s for s in given}, args.out, workers=args.workers, scheduler=args.scheduler,
        retry_errors=args.retry_errors, progress=args.progress,
    )  # fmt: skip
    print(
        f"{result.ran} tasks run, {result.skipped} already in {args.out}, {result.failed} failed; "
        f"rows: {Path(args.out) / 'results.csv'}"
    )
    if result.rows:
        table = table_from_batch(result.rows)
        table.write(args.out, stem="summary")
        print(table.markdown())
    if result.interrupted:
        print("interrupted: run the same command again to resume")
        return 130
    return 1 if any(row["status"] == "error" for row in result.rows) else 0

"""``nco data``: build city pools from OSM extracts or a running OSRM server, and list the available pools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from envs.cities import check_city_name, city_infos, shadowed, shipped_dir, user_dir
from envs.osrm.client import OSRMClient
from envs.osrm.pipeline import PoolRequest, build_pools, local_osrm
from envs.osrm.sampling import parse_bbox


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="build and list city pools (real road networks)")
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    build = commands.add_parser(
        "build-city",
        help="sample road points and their OSRM matrices into a pool",
        description="From --pbf, OSRM is built and served locally on 127.0.0.1 only (tools fetched from the "
        "osrm-bindings wheel on first use); with --osrm-url an existing server is queried.",
    )
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--pbf", type=Path, help="OpenStreetMap extract (.osm.pbf)")
    source.add_argument("--osrm-url", help="root of a running OSRM server, e.g. http://localhost:5000 (needs --bbox)")
    build.add_argument(
        "--name", required=True, type=_argument(check_city_name), help="pool name, as later given to nco.load_city"
    )
    build.add_argument(
        "--points", type=_at_least(2), default=1000, help="number of distinct road points (default 1000)"
    )
    build.add_argument(
        "--bbox",
        type=parse_bbox,
        metavar="MINLON,MINLAT,MAXLON,MAXLAT",
        help="sampling area (default with --pbf: the densest 3 x 3 km window of the roads)",
    )
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--threads", type=_at_least(1), default=2, help="OSRM build/server threads (default 2)")
    build.add_argument("--out", type=Path, help=f"output folder (default {user_dir()})")
    build.set_defaults(func=run_build)

    cities = commands.add_parser("cities", help="list shipped and user-built pools with point counts and split")
    cities.add_argument("--split", choices=("train", "test", "user", "all"), default="all")
    cities.set_defaults(func=run_cities)

    label = commands.add_parser(
        "label",
        help="solve generated instances with a solver and store the solutions as training labels",
        description="Instances are named by seed and rebuilt on demand (nco.training.labels); complete shards "
        "are skipped, so re-running the same command resumes an interrupted run.",
    )
    label.add_argument("--problem", required=True, help="preset name (acvrp, acvrptw, atsp, ...)")
    label.add_argument("--size", type=int, required=True, help="customers per instance")
    label.add_argument(
        "--cities",
        default="train",
        help="'train' (the train-split pools), 'synthetic', or comma-separated train pool names",
    )
    label.add_argument("--num-instances", type=int, required=True)
    label.add_argument(
        "--time-limit",
        type=float,
        help="solver wall-clock seconds per instance (default 0.5; with --iterations a cap, default 30)",
    )
    label.add_argument(
        "--iterations",
        type=int,
        help="solver iterations per instance: labels that do not depend on how busy the machine is",
    )
    label.add_argument("--workers", type=int, default=1, help="solver processes, one core each (default 1)")
    label.add_argument("--solver", default="pyvrp", help="nco method that makes the labels (default pyvrp)")
    label.add_argument("--distribution", choices=("uniform", "cluster", "mixed"), default="uniform")
    label.add_argument("--seed", type=int, default=0, help="instance i gets seed SEED * 10**9 + i")
    label.add_argument("--shard-size", type=int, default=100, help="instances per shard file (default 100)")
    label.add_argument("--out", type=Path, required=True, help="label directory (e.g. labels/acvrp100)")
    label.add_argument("--no-progress", dest="progress", action="store_false")
    label.set_defaults(func=run_label)


def _argument(check):
    """An argparse type from a validating function: its ValueError becomes a usage error (exit 2),
    raised while parsing, before any OSRM server is built or started."""

    def convert(text: str):
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _at_least(minimum: int):
    def check(text: str) -> int:
        if not text.strip().lstrip("-").isdigit() or int(text) < minimum:
            raise ValueError(f"expected an integer >= {minimum}, got {text!r}")
        return int(text)

    return _argument(check)


class _Progress:
    """A pool build's ``(stage, done, total)`` reports as one tqdm bar per stage on stderr (snapping, then
    the table tiles); a context manager, so that a failed build leaves no bar half drawn."""

    def __init__(self) -> None:
        self.stage = ""
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar is None or stage != self.stage:
            self.close()
            self.stage, self.bar = stage, tqdm(total=total, desc=f"  {stage}", unit="step", file=sys.stderr)
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_build(args: argparse.Namespace) -> int:
    if args.out is None and (shipped_dir() / f"{args.name}.npz").is_file():
        print(
            f"note: your pool {args.name!r} will shadow the shipped pool of that name "
            f"(nco.load_city({args.name!r}) returns yours; delete it to restore the shipped one)",
            file=sys.stderr,
        )
    request = PoolRequest(args.name, args.points, args.bbox, seed=args.seed)
    try:
        if args.pbf is not None:
            print(f"building OSRM graph of {args.pbf} (cached by content) ...", file=sys.stderr)
            with local_osrm(args.pbf, threads=args.threads) as (client, nodes, provenance), _Progress() as progress:
                (path,) = build_pools(client, [request], provenance, nodes=nodes, out=args.out, progress=progress)
        else:
            if args.bbox is None:
                raise ValueError("--bbox is required with --osrm-url (the server's road graph is not readable)")
            provenance = {
                "source_file": None,
                "osrm_url": args.osrm_url,
                "osrm_version": "unknown (remote)",
                "profile": "server's",
            }
            with _Progress() as progress:
                (path,) = build_pools(OSRMClient(args.osrm_url), [request], provenance, out=args.out, progress=progress)
    except RuntimeError as error:  # OSRM unavailable, failed build, dead server
        print(f"nco data build-city: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({args.points} points)")
    return 0


def run_cities(args: argparse.Namespace) -> int:
    infos = city_infos(args.split)
    width = max([len(info.name) for info in infos] + [4])
    print(f"{'name':<{width}}  {'points':>6}  {'split':<5}  place / file")
    for info in infos:
        print(f"{info.name:<{width}}  {info.points:>6}  {info.split:<5}  {info.place}  {info.path}")
    print(f"{len(infos)} pools ({args.split})")
    for name in shadowed():
        print(f"note: shipped pool {name!r} is hidden by your pool in {user_dir()}")
    return 0


def _label_cities(value: str) -> tuple[str, ...]:
    """Train pools only: labelled instances are training data, and test places must stay unseen."""
    from envs.cities import list_cities

    if value == "synthetic":
        return ()
    if value == "train":
        return tuple(list_cities("train"))
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    test = set(list_cities("test"))
    for name in names:
        if name in test:
            raise ValueError(f"--cities: {name!r} is a test-split pool; labels are training data")
    return names


def run_label(args: argparse.Namespace) -> int:
    from nco.training.labels import LabelJob, write_labels

    try:
        job = LabelJob(
            problem=args.problem,
            size=args.size,
            cities=_label_cities(args.cities),
            num_instances=args.num_instances,
            time_limit=args.time_limit if args.time_limit is not None else 0.5 if args.iterations is None else 30.0,
            iterations=args.iterations,
            out=str(args.out),
            workers=args.workers,
            seed=args.seed,
            shard_size=args.shard_size,
            distribution=args.distribution,
            solver=args.solver,
        )
        report = write_labels(job, progress=args.progress)
    except ValueError as error:
        print(f"nco data label: error: {error}", file=sys.stderr)
        return 2
    print(
        f"labelled {report['labelled']} instances ({report['skipped']} already there, "
        f"{report['infeasible']} infeasible, {report['capped']} stopped by the time cap) "
        f"in {report['seconds']} s ({report['per_hour']} per hour) -> {args.out}"
    )
    return 0

"""Build the shipped city pools in data/cities/ from the OSM extracts in /work/shared/osm (or --osm DIR).

Reproducible: fixed seeds, pinned OSRM (osrm-bindings version in envs/osrm/binaries.py), densest disjoint
3 x 3 km windows found from the graph's own road nodes. Extracts are processed one at a time (the graph build
and the server use --threads cores). Existing pools are kept unless --force, so an interrupted run resumes.

    python scripts/build_cities.py [--osm /work/shared/osm] [--only porto,milan] [--force]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.cities import load_city, shipped_dir  # noqa: E402
from envs.osrm.pipeline import PoolRequest, build_pools, local_osrm  # noqa: E402
from envs.osrm.pool import NoRoadsError  # noqa: E402
from envs.osrm.sampling import dense_windows  # noqa: E402
from nco_core.io import atomic_path  # noqa: E402

# (extract stem, place key, continent, split, points per pool: one pool per densest disjoint window)
# Places, not windows, are split: every window of a test place is a test pool. Class A extracts of
# /work/shared/osm/SOURCES.md; heidelberg_germany is skipped (inside mannheim-rhein-neckar) and
# liechtenstein-2013 too (older copy of liechtenstein). The last block is class B: fragmented extracts
# usable because the sampler keeps only the largest strongly connected set of points (manhattan_usa was tried
# and dropped: its largest strongly connected set holds fewer than 200 distinct points).
PLACES: list[tuple[str, str, str, str, list[int]]] = [
    ("porto_portugal", "porto", "Europe", "train", [1000, 500, 500, 500]),
    ("mannheim-rhein-neckar_germany", "rhein-neckar", "Europe", "train", [1000, 500, 500]),
    ("milan_italy", "milan", "Europe", "train", [1000, 500, 500]),
    ("columbus_usa", "columbus", "North America", "train", [1000, 500, 500]),
    ("malta_malta", "malta", "Europe", "train", [500, 500]),
    ("vancouver_canada", "vancouver", "North America", "train", [500, 500]),
    ("portland_usa", "portland", "North America", "train", [500]),
    ("owingsmills_usa", "owingsmills", "North America", "train", [500]),
    ("oslo_norway", "oslo", "Europe", "test", [500]),
    ("washingtondc_usa", "washingtondc", "North America", "train", [500]),
    ("maribor_slovenia", "maribor", "Europe", "test", [500]),
    ("boston_usa", "boston", "North America", "test", [500]),
    ("andorra_andorra", "andorra", "Europe", "train", [500]),
    ("liechtenstein_liechtenstein", "liechtenstein", "Europe", "train", [500]),
    ("terrehaute_usa", "terrehaute", "North America", "test", [500]),
    ("londonnorth_uk", "london-north", "Europe", "train", [500]),
    ("saopaulo_brazil", "saopaulo", "South America", "train", [500]),
    ("neubrandenburg_germany", "neubrandenburg", "Europe", "train", [500]),
    ("harrisburg_usa", "harrisburg", "North America", "train", [500]),
    ("hengelo_netherlands", "hengelo", "Europe", "train", [500]),
    ("monaco_monaco", "monaco", "Europe", "train", [500]),
    ("campogrande_brazil", "campogrande", "South America", "test", [500]),
    ("baltimore_usa", "baltimore", "North America", "train", [500]),
    ("prague_czechia", "prague", "Europe", "train", [500]),
    ("atlanta_usa", "atlanta", "North America", "test", [500]),
    ("miltonkeynes_uk", "miltonkeynes", "Europe", "train", [500]),
    ("bangor_usa", "bangor", "North America", "train", [500]),
    ("copenhagen_denmark", "copenhagen", "Europe", "test", [500]),
    ("frankfurt_germany", "frankfurt", "Europe", "train", [500]),
    ("lauf_germany", "lauf", "Europe", "train", [500]),
    ("queensvillage_usa", "queensvillage", "North America", "train", [500]),
    ("garmisch_germany", "garmisch", "Europe", "train", [500]),
    ("krems_austria", "krems", "Europe", "test", [500]),
    ("poznan_poland", "poznan", "Europe", "train", [500]),
    ("moscow_russia", "moscow", "Europe", "train", [500]),
    # class B
    ("helsinki_finland", "helsinki", "Europe", "train", [300]),
    ("sydney-marrickville_australia", "sydney", "Oceania", "test", [300]),
    ("aguascalientes_mexico", "aguascalientes", "North America", "test", [300]),
    ("paris_france", "paris", "Europe", "train", [300]),
    ("munich_germany", "munich", "Europe", "train", [300]),
]
FALLBACK = (300, 200)  # a window that cannot give its points falls back to these counts, recorded in meta


def pool_names(place: str, count: int) -> list[str]:
    return [place if k == 0 else f"{place}-{k + 1}" for k in range(count)]


def write_split(directory: Path) -> None:
    split = {
        "about": "train/test split by place (never by window): test places are never used in training",
        "train": sorted(p for _, p, _, s, _ in PLACES if s == "train"),
        "test": sorted(p for _, p, _, s, _ in PLACES if s == "test"),
        "continent": {p: c for _, p, c, _, _ in PLACES},
    }
    with atomic_path(directory / "split.json") as temp:
        Path(temp).write_text(json.dumps(split, indent=1, sort_keys=True) + "\n")


def build_place(pbf: Path, place: str, continent: str, sizes: list[int], out: Path, force: bool) -> None:
    names = pool_names(place, len(sizes))
    if not force and all((out / f"{n}.npz").is_file() for n in names):
        print(f"{place}: already built, skipped", flush=True)
        return
    start = time.perf_counter()
    with local_osrm(pbf) as (client, nodes, provenance):
        ready = time.perf_counter() - start
        print(f"{place}: graph + server ready in {ready:.1f} s", flush=True)
        windows = dense_windows(nodes, count=len(sizes))
        for k, (name, size, bbox) in enumerate(zip(names, sizes, windows, strict=True)):
            if not force and (out / f"{name}.npz").is_file():
                continue
            for points in (size, *[f for f in FALLBACK if f < size]):
                t0 = time.perf_counter()
                meta = {
                    "place": place,
                    "continent": continent,
                    "window": f"densest free 3 km window #{k + 1}",
                    "requested_points": size,
                }
                try:
                    (path,) = build_pools(
                        client, [PoolRequest(name, points, bbox, seed=k, meta=meta)], provenance, nodes=nodes, out=out
                    )
                except NoRoadsError as error:
                    print(f"{name}: {error}", flush=True)
                    continue
                seconds = time.perf_counter() - t0
                print(
                    f"{name}: {points} points in {seconds:.1f} s (+{ready:.1f} s graph), "
                    f"{path.stat().st_size / 1e6:.2f} MB",
                    flush=True,
                )
                load_city(str(path))  # the saved file must read back
                break


def table(directory: Path) -> str:
    """Markdown table of the pools in ``directory`` (pasted into data/cities/README.md)."""
    rows = [
        "| pool | place | continent | split | points | MB | bbox (minlon,minlat,maxlon,maxlat) | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    split = json.loads((directory / "split.json").read_text())
    test = set(split["test"])
    for path in sorted(directory.glob("*.npz")):
        meta = load_city(str(path)).meta
        bbox = ",".join(f"{v:.4f}" for v in meta["bbox"])
        rows.append(
            f"| {path.stem} | {meta['place']} | {meta['continent']} | "
            f"{'test' if meta['place'] in test else 'train'} | {meta['points']} | "
            f"{path.stat().st_size / 1e6:.2f} | {bbox} | {meta['source_file']} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osm", type=Path, default=Path("/work/shared/osm"))
    parser.add_argument("--out", type=Path, default=shipped_dir())
    parser.add_argument("--only", default="", help="comma-separated place keys")
    parser.add_argument("--force", action="store_true", help="rebuild pools that already exist")
    parser.add_argument("--table", action="store_true", help="only print the markdown table of built pools")
    args = parser.parse_args()
    if args.table:
        print(table(args.out))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    write_split(args.out)
    only = set(filter(None, args.only.split(",")))
    for stem, place, continent, _, sizes in PLACES:
        if only and place not in only:
            continue
        pbf = args.osm / f"{stem}.osm.pbf"
        if not pbf.is_file():
            print(f"{place}: {pbf} missing, skipped", flush=True)
            continue
        try:
            build_place(pbf, place, continent, sizes, args.out, args.force)
        except Exception as error:  # one bad extract must not stop the others; the summary names it
            print(f"{place}: FAILED: {type(error).__name__}: {error}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

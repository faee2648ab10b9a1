"""Where to put pool points: the road nodes of a built graph, dense windows of them, and seed points.

Road nodes are read from OSRM's own ``.osrm.nbg_nodes`` (a tar archive holding int32 micro-degree lon/lat pairs),
so they are exactly the nodes of the profile's drivable ways; parsing the .pbf again (e.g. with osmium) would
have to re-implement car.lua's access rules."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

BBox = tuple[float, float, float, float]  # (min lon, min lat, max lon, max lat), as on the command line
EARTH_KM_PER_DEG = 111.19492664455873  # mean radius 6371.0088 km


def parse_bbox(text: str) -> BBox:
    """``"minlon,minlat,maxlon,maxlat"`` -> BBox, validated."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"bbox {text!r}: expected four numbers minlon,minlat,maxlon,maxlat") from None
    if len(values) != 4:
        raise ValueError(f"bbox {text!r}: expected four numbers minlon,minlat,maxlon,maxlat, got {len(values)}")
    return check_bbox(values)


def check_bbox(bbox: BBox) -> BBox:
    minlon, minlat, maxlon, maxlat = bbox
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise ValueError(f"bbox {bbox}: need -180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90")
    return (float(minlon), float(minlat), float(maxlon), float(maxlat))


def road_nodes(base: Path) -> np.ndarray:
    """(K, 2) lat/lon of every node of the graph's drivable ways."""
    path = Path(f"{base}.nbg_nodes")
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile("/common/nbn_data/coordinates")
            raw = member.read() if member else b""
    except (OSError, KeyError, tarfile.TarError) as error:
        raise RuntimeError(f"{path}: cannot read OSRM node coordinates ({error})") from error
    lonlat = np.frombuffer(raw, dtype="<i4").reshape(-1, 2)
    return lonlat[:, ::-1] / 1e6


def inside(latlon: np.ndarray, bbox: BBox) -> np.ndarray:
    minlon, minlat, maxlon, maxlat = bbox
    return (latlon[:, 0] >= minlat) & (latlon[:, 0] <= maxlat) & (latlon[:, 1] >= minlon) & (latlon[:, 1] <= maxlon)


def dense_windows(
    nodes: np.ndarray, *, size_km: float = 3.0, count: int = 1, cell_km: float = 0.25, min_nodes: int = 1
) -> list[BBox]:
    """Up to ``count`` pairwise disjoint ``size_km`` squares holding the most road nodes, densest first.

    Nodes are binned into ``cell_km`` cells (local equirectangular projection); window sums come from a 2-D
    cumulative sum, and windows are taken greedily, each excluding every window overlapping it."""
    if len(nodes) == 0:
        return []
    lat0 = float(np.median(nodes[:, 0]))
    kx = EARTH_KM_PER_DEG * np.cos(np.radians(lat0))
    x = (nodes[:, 1] - nodes[:, 1].min()) * kx
    y = (nodes[:, 0] - nodes[:, 0].min()) * EARTH_KM_PER_DEG
    side = int(round(size_km / cell_km))
    shape = (int(y.max() // cell_km) + 1, int(x.max() // cell_km) + 1)
    grid = np.zeros(shape, dtype=np.int64)
    np.add.at(grid, ((y // cell_km).astype(int), (x // cell_km).astype(int)), 1)
    padded = np.pad(grid, ((0, side), (0, side)))
    cum = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = cum[side:, side:] - cum[:-side, side:] - cum[side:, :-side] + cum[:-side, :-side]
    sums = sums[: shape[0], : shape[1]].astype(float)  # sums[r, c]: window whose lower-left cell is (r, c)
    windows: list[BBox] = []
    while len(windows) < count:
        r, c = np.unravel_index(int(np.argmax(sums)), sums.shape)
        if sums[r, c] < max(min_nodes, 1):
            break
        minlat = nodes[:, 0].min() + r * cell_km / EARTH_KM_PER_DEG
        minlon = nodes[:, 1].min() + c * cell_km / kx
        windows.append(
            (
                round(minlon, 6),
                round(minlat, 6),
                round(minlon + side * cell_km / kx, 6),
                round(minlat + side * cell_km / EARTH_KM_PER_DEG, 6),
            )
        )
        sums[max(r - side + 1, 0) : r + side, max(c - side + 1, 0) : c + side] = -1
    return windows


def node_seeds(nodes: np.ndarray, bbox: BBox):
    """Seed sampler drawing road nodes inside ``bbox`` uniformly (a node is a real spot on a drivable way)."""
    pool = nodes[inside(nodes, bbox)]

    def draw(rng: np.random.Generator, k: int) -> np.ndarray:
        if len(pool) == 0:
            return pool
        return pool[rng.integers(len(pool), size=k)]

    return draw


def uniform_seeds(bbox: BBox):
    """Seed sampler drawing uniform points in ``bbox``, for remote servers whose graph we cannot read."""
    minlon, minlat, maxlon, maxlat = bbox

    def draw(rng: np.random.Generator, k: int) -> np.ndarray:
        return np.column_stack([rng.uniform(minlat, maxlat, k), rng.uniform(minlon, maxlon, k)])

    return draw

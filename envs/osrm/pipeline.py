"""From an OSM extract (local OSRM) or a running OSRM server to saved city pools: the one code path used by
``nco data build-city`` and ``scripts/build_cities.py``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.cities import save_city
from envs.osrm.binaries import find_tools
from envs.osrm.build import build_dataset
from envs.osrm.client import OSRMClient, Progress
from envs.osrm.pool import sample_pool
from envs.osrm.sampling import BBox, check_bbox, dense_windows, node_seeds, road_nodes, uniform_seeds
from envs.osrm.server import serve

WINDOW_KM = 3.0


@dataclass(frozen=True)
class PoolRequest:
    name: str
    points: int
    bbox: BBox | None = None  # None: the densest free WINDOW_KM square of the extract
    seed: int = 0
    meta: dict[str, Any] | None = None  # extra metadata (place, continent...)


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@contextmanager
def local_osrm(pbf: Path, *, threads: int = 2) -> Iterator[tuple[OSRMClient, np.ndarray, dict[str, Any]]]:
    """Build (cached) and serve ``pbf`` on loopback: yields a client, the graph's road nodes, and provenance."""
    tools = find_tools()
    dataset = build_dataset(pbf, tools, threads=threads)
    provenance = {
        "source_file": Path(pbf).name,
        "source_sha256": dataset.sha256,
        "osrm_version": tools.version,
        "profile": dataset.profile,
        "algorithm": "mld",
    }
    with serve(dataset, tools, threads=threads) as server:
        # server-side cap = two client tiles per request
        yield OSRMClient(server.url, block=500), road_nodes(dataset.base), provenance


def build_pools(
    client: OSRMClient,
    requests: Sequence[PoolRequest],
    provenance: dict[str, Any],
    *,
    nodes: np.ndarray | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Sample and save each requested pool; pools without a bbox take successive disjoint dense windows."""
    auto = [r for r in requests if r.bbox is None]
    windows: list[BBox] = []
    if auto:
        if nodes is None:
            raise ValueError("bbox: required when sampling from a remote OSRM server (--osrm-url)")
        windows = dense_windows(nodes, size_km=WINDOW_KM, count=len(auto))
        if len(windows) < len(auto):
            raise ValueError(
                f"the extract has only {len(windows)} disjoint {WINDOW_KM:g} km road windows, {len(auto)} requested"
            )
    free = iter(windows)
    paths = []
    for request in requests:
        bbox = check_bbox(request.bbox) if request.bbox is not None else next(free)
        seeds = node_seeds(nodes, bbox) if nodes is not None else uniform_seeds(bbox)
        pool = sample_pool(client, bbox, request.points, seeds, np.random.default_rng(request.seed), progress=progress)
        meta = {
            **provenance,
            "bbox": list(bbox),
            "seed": request.seed,
            "built": _stamp(),
            "window": "given" if request.bbox is not None else f"densest free {WINDOW_KM:g} km window",
            "precision": {"points": "1e-6 deg", "distance": "1 m", "duration": "0.1 s"},
            **(request.meta or {}),
        }
        paths.append(save_city(request.name, pool.points, pool.distance_m, pool.duration_ds, meta, out))
    return paths

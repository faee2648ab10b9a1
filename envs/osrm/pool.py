"""Sample a strongly connected pool of distinct road points in a bbox and compute its full travel matrices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.osrm.client import OSRMClient, Progress
from envs.osrm.sampling import BBox, inside

Seeds = Callable[[np.random.Generator, int], np.ndarray]


class NoRoadsError(ValueError):
    """The bbox holds no (or too few) distinct, mutually reachable road points."""


@dataclass(frozen=True)
class RoadPool:
    """Stored precision: ``distance_m`` integer metres, ``duration_ds`` integer deciseconds (OSRM itself rounds
    durations to 0.1 s); ``points`` are OSRM-snapped (lat, lon) with 1e-6 degree resolution."""

    points: np.ndarray
    distance_m: np.ndarray
    duration_ds: np.ndarray


def _mutually_reachable(routed: np.ndarray) -> np.ndarray:
    """Largest set of points with a route between every ordered pair.

    Reachability from a table is (nearly) transitive, so the best row of ``routed & routed.T`` is the largest
    strongly connected set; a greedy pass then drops whatever pair is still unrouted inside it."""
    mutual = routed & routed.T
    keep = mutual[int(np.argmax(mutual.sum(1)))].copy()
    while True:
        sub = ~routed[np.ix_(keep, keep)]
        if not sub.any():
            return keep
        worst = np.flatnonzero(keep)[int(np.argmax(sub.sum(0) + sub.sum(1)))]
        keep[worst] = False


def _distinct(distance_m: np.ndarray, duration_ds: np.ndarray) -> np.ndarray:
    """Drop the later point of every pair that is zero apart at stored precision (same spot after snapping)."""
    zero = (distance_m == 0) | (duration_ds == 0)
    zero = np.triu(zero | zero.T, 1)
    keep = np.ones(len(zero), dtype=bool)
    for i, j in zip(*np.nonzero(zero), strict=True):
        if keep[i]:
            keep[j] = False
    return keep


def sample_pool(
    client: OSRMClient,
    bbox: BBox,
    n: int,
    seeds: Seeds,
    rng: np.random.Generator,
    *,
    max_snap_m: float = 100.0,
    max_rounds: int = 8,
    progress: Progress | None = None,
) -> RoadPool:
    """Draw seeds, snap them with /nearest (dropping far snaps and snaps leaving the bbox), deduplicate, compute
    the table, keep the largest strongly connected distinct set, and re-sample until ``n`` points remain."""
    if n < 2:
        raise ValueError(f"points must be >= 2, got {n}")
    points = np.empty((0, 2))
    seen: set[tuple[int, int]] = set()
    distance_m = duration_ds = np.zeros((0, 0), dtype=np.int64)
    stale = 0
    for _ in range(max_rounds):
        need = n - len(points)
        drawn = seeds(rng, int(need * 1.25) + 8)
        if len(drawn) == 0 and len(points) == 0:
            raise NoRoadsError(f"no drivable road in bbox {bbox}: the road graph has no node there")
        if len(drawn):
            snapped, snap = client.nearest(drawn)
            snapped = snapped[(snap <= max_snap_m) & inside(snapped, bbox)]
            fresh = []
            for point in snapped:
                key = (int(round(point[0] * 1e5)), int(round(point[1] * 1e5)))  # ~1 m
                if key not in seen:
                    seen.add(key)
                    fresh.append(point)
            if progress:
                progress("snap", min(len(points) + len(fresh), n), n)
            if fresh:
                points = np.concatenate([points, np.asarray(fresh)])
        if len(points) == 0:
            raise NoRoadsError(
                f"no drivable road in bbox {bbox}: none of {len(drawn)} random spots is within "
                f"{max_snap_m:.0f} m of a road inside it"
            )
        distance, duration = client.table(points, progress)
        keep = _mutually_reachable(~np.isnan(distance) & ~np.isnan(duration))
        distance_m = np.rint(np.nan_to_num(distance)).astype(np.int64)
        duration_ds = np.rint(np.nan_to_num(duration) * 10).astype(np.int64)
        keep[keep] = _distinct(distance_m[np.ix_(keep, keep)], duration_ds[np.ix_(keep, keep)])
        grew = keep.sum() > len(points) - need
        points, distance_m, duration_ds = points[keep], distance_m[np.ix_(keep, keep)], duration_ds[np.ix_(keep, keep)]
        if len(points) >= n:
            return RoadPool(points[:n], distance_m[:n, :n].astype(np.uint32), duration_ds[:n, :n].astype(np.uint32))
        stale = 0 if grew else stale + 1
        if stale >= 2:
            break
    raise NoRoadsError(
        f"bbox {bbox} gave only {len(points)} distinct, mutually reachable road points "
        f"(asked for {n}); ask for fewer points or a larger bbox"
    )

"""Road matrices and road geometry for a user's stops, from OSRM.

``road_problem`` asks ``/nearest`` how far each location is from the road graph (a stop more than
``max_snap_m`` away, e.g. in the sea or outside the extract, is an error naming its id), then
``/table`` for all distances (metres) and durations (seconds); a stop OSRM cannot route to or from is
an error naming it. ``route_lines`` follows each planned route through OSRM ``/route``. ``osrm``
opens a client for ``--osrm-url`` or for a local ``osrm-routed`` built from ``--pbf`` (the graph is
cached by the extract's sha256, so a second run starts in seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from envs.osrm.client import OSRMClient, OSRMError
from envs.osrm.pipeline import local_osrm
from nco_core.errors import UnsupportedFeature
from nco_core.solution import Solution
from nco_core.stops import Matrices, Problem, StopsError

__all__ = ["MAX_SNAP_M", "osrm", "road_problem", "route_lines"]

MAX_SNAP_M = 500.0  # farther from any road than this is a wrong coordinate, not a kerb


@contextmanager
def osrm(url: str | None = None, pbf: str | Path | None = None) -> Iterator[OSRMClient]:
    """A client for a running server (``url``) or for a local one serving ``pbf`` for the block's duration."""
    if (url is None) == (pbf is None):
        raise ValueError("give exactly one of an OSRM url (--osrm-url) and an OSM extract (--pbf)")
    if url is not None:
        yield OSRMClient(url)
        return
    with local_osrm(Path(pbf)) as (client, _, _):  # type: ignore[arg-type]
        yield client


def road_problem(problem: Problem, client: OSRMClient, *, max_snap_m: float = MAX_SNAP_M) -> Problem:
    """``problem`` with OSRM road matrices over its locations (seconds and metres)."""
    if problem.coordinates is None:
        raise StopsError(f"{problem.name}: no coordinates to route (give every job and vehicle a location)")
    profiles = sorted({v.profile for v in problem.vehicles})
    if len(profiles) > 1:
        raise UnsupportedFeature(
            "OSRM matrices",
            f"several vehicle profiles {profiles} (one server routes one; give the file its own 'matrices')",
        )
    latlon = problem.coordinates
    _, snap = client.nearest(latlon)
    far = np.flatnonzero(snap > max_snap_m)
    if far.size:
        i = int(far[np.argmax(snap[far])])
        lat, lon = latlon[i]
        raise StopsError(
            f"{problem.name}: {problem.owners[i]} at ({lat:g}, {lon:g}) is {snap[i]:.0f} m from the "
            f"nearest road of the OSRM graph (more than {max_snap_m:g} m: outside the extract, in "
            f"the water, or a wrong coordinate)"
        )
    distance, duration = client.table(latlon)
    broken = np.isnan(distance) | np.isnan(duration)
    np.fill_diagonal(broken, False)
    if broken.any():
        i = int(np.argmax(broken.sum(axis=0) + broken.sum(axis=1)))
        raise StopsError(
            f"{problem.name}: {problem.owners[i]}: OSRM finds no road to or from it for "
            f"{int(broken[i].sum() + broken[:, i].sum())} of the other stops (an island of the road "
            "graph, e.g. a closed area or a one-way dead end)"
        )
    return problem.with_matrices({profiles[0]: Matrices(duration, distance)})


def route_lines(problem: Problem, solution: Solution, client: OSRMClient | None = None) -> list[np.ndarray]:
    """One (K, 2) lat/lon line per route, through its start, its jobs and its end: along the roads
    with a client (OSRM ``/route``), straight segments between the stops without one."""
    if problem.coordinates is None:
        raise StopsError(f"{problem.name}: no coordinates to draw the routes")
    lines = []
    for route, k in zip(solution.routes, solution.vehicle_types, strict=True):
        stops = problem.coordinates[problem.node_locations[problem.route_nodes(route, k)]]
        if client is None:
            lines.append(stops)
            continue
        try:
            lines.append(client.route(stops))
        except OSRMError as error:
            raise OSRMError(f"{problem.name}: the road path of a route of vehicle type {k}: {error}") from None
    return lines

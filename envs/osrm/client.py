"""A small HTTP client for the two OSRM services a pool needs: ``/nearest`` (snapping) and ``/table``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

Progress = Callable[[str, int, int], None]


# Replies beyond these are a broken server, not a road: the Earth's circumference is 4.0e7 m, and
# pools store metres and deciseconds as uint32 (4.29e9).
MAX_DISTANCE_M = 1e8
MAX_DURATION_S = 1e7  # 115 days
# OSRM's table service has a known defect: a few distances come back negative (durations do not;
# osrm-backend issues 5306, 5855, 7269). Such a pair's distance is unknown, so it becomes NaN like an
# unroutable pair and the pool drops one of its points; more than this share means a broken server.
MAX_NEGATIVE_SHARE = 0.01


class OSRMError(RuntimeError):
    """The OSRM server is unreachable, answered with an error code, or sent a reply that is not a valid answer."""


def _table_values(
    reply: dict, key: str, shape: tuple[int, int], bound: float, where: str, *, negative: bool = False
) -> np.ndarray:
    """``reply[key]`` as a float (rows, cols) array, NaN where OSRM found no route (``null``).

    Anything else — a missing key, the wrong shape, a non-number, a negative, infinite or absurdly
    large value — is an OSRMError: such replies once became pools of 1 m everywhere (a (1, 1) reply
    broadcast) or of 4294967290 m (a -5 wrapped into uint32)."""
    rows = reply.get(key)
    if (
        not isinstance(rows, list)
        or len(rows) != shape[0]
        or any(not isinstance(row, list) or len(row) != shape[1] for row in rows)
    ):
        found = f"{len(rows)} rows" if isinstance(rows, list) else type(rows).__name__
        raise OSRMError(f"{where}: '{key}' must be {shape[0]} rows of {shape[1]} values, got {found}")
    flat = [value for row in rows for value in row]
    bad = next((v for v in flat if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))), None)
    if bad is not None:
        raise OSRMError(f"{where}: '{key}' holds {bad!r}, not a number or null")
    values = np.array([np.nan if v is None else v for v in flat], dtype=float).reshape(shape)
    low = -bound if negative else 0.0  # negative distances are judged over the whole table (see table())
    wrong = np.argwhere(~np.isnan(values) & ~((values >= low) & (values <= bound)))
    if wrong.size:
        i, j = map(int, wrong[0])
        raise OSRMError(f"{where}: '{key}'[{i}][{j}] = {float(values[i, j]):g} is not in [0, {bound:g}]")
    return values


def _drop_negative(distance: np.ndarray, where: str) -> np.ndarray:
    """NaN for OSRM's few negative distances (unknown, dropped like unroutable pairs); an error if many."""
    negative = np.argwhere(distance < 0)
    if len(negative) > MAX_NEGATIVE_SHARE * distance.size:
        i, j = map(int, negative[0])
        raise OSRMError(
            f"{where}: {len(negative)} negative distances in a {distance.shape[0]} x {distance.shape[1]} "
            f"table (first: 'distances'[{i}][{j}] = {float(distance[i, j]):g}); more than "
            f"{MAX_NEGATIVE_SHARE:.0%} means a broken server"
        )
    distance[distance < 0] = np.nan
    return distance


def _waypoint(reply: dict, where: str) -> tuple[float, float, float]:
    """(lat, lon, snap distance m) of the first waypoint of a /nearest reply, checked."""
    waypoints = reply.get("waypoints")
    first = waypoints[0] if isinstance(waypoints, list) and waypoints else None
    location = first.get("location") if isinstance(first, dict) else None
    distance = first.get("distance") if isinstance(first, dict) else None
    numbers = location if isinstance(location, list) else []
    if (
        len(numbers) != 2
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers)
        or isinstance(distance, bool)
        or not isinstance(distance, (int, float))
    ):
        raise OSRMError(
            f"{where}: expected waypoints[0] with a [lon, lat] location and a distance, got {str(waypoints)[:200]}"
        )
    lon, lat = map(float, numbers)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90 and 0 <= distance <= MAX_DISTANCE_M):
        raise OSRMError(f"{where}: waypoint at lon {lon}, lat {lat}, {distance} m away is not a place on Earth")
    return lat, lon, float(distance)


class OSRMClient:
    """``url`` is the server root (``http://host:port``); coordinates are given and returned as (lat, lon).

    Transient failures (connection refused, timeouts, HTTP 5xx) are retried ``retries`` times with exponential
    backoff (urllib3's ``Retry`` on the session: the first at once, then after ``backoff`` x 2, x 4, ... s); OSRM
    error codes (``InvalidQuery``, ``TooBig``...) are reported at once, with OSRM's message."""

    def __init__(
        self,
        url: str,
        *,
        profile: str = "driving",
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        block: int = 250,
    ) -> None:
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        self.url = url.rstrip("/")
        self.profile = profile
        self.timeout = timeout
        self.retries = retries
        self.block = block
        retry = Retry(
            total=retries,
            backoff_factor=backoff,
            status_forcelist=range(500, 600),
            allowed_methods=["GET"],
            raise_on_status=False,
        )  # the last 5xx reply comes back: reported below
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def _get(self, service: str, coordinates: str, params: dict[str, str]) -> dict:
        address = f"{self.url}/{service}/v1/{self.profile}/{coordinates}"
        attempts = f"after {self.retries + 1} attempts"
        try:
            response = self.session.get(address, params=params, timeout=self.timeout)
        except requests.RequestException as error:
            raise OSRMError(
                f"OSRM server at {self.url} is not reachable {attempts} "
                f"({type(error).__name__}: {error}); is it running?"
            ) from None
        if response.status_code >= 500:
            raise OSRMError(
                f"OSRM server at {self.url} answered HTTP {response.status_code} {attempts}: {response.text[:200]!r}"
            )
        try:
            answer = response.json()
        except ValueError:
            raise OSRMError(
                f"OSRM {service} at {self.url} answered HTTP {response.status_code} "
                f"with non-JSON: {response.text[:200]!r}"
            ) from None
        if not isinstance(answer, dict):
            raise OSRMError(f"OSRM {service} at {self.url} answered a JSON {type(answer).__name__}, not an object")
        if answer.get("code") != "Ok":
            raise OSRMError(f"OSRM {service} at {self.url} failed: {answer.get('code')}: {answer.get('message', '')}")
        return answer

    @staticmethod
    def _coordinates(latlon: np.ndarray) -> str:
        return ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in latlon)

    def nearest(self, latlon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Snap each (lat, lon) to the closest routable road: (snapped (K, 2) lat/lon, snap distance (K,) m)."""
        latlon = np.asarray(latlon, dtype=float).reshape(-1, 2)
        snapped = np.empty_like(latlon)
        distance = np.empty(len(latlon))
        for k, point in enumerate(latlon):
            reply = self._get("nearest", self._coordinates(point[None]), {"number": "1"})
            lat, lon, distance[k] = _waypoint(reply, f"OSRM nearest at {self.url}")
            snapped[k] = lat, lon
        return snapped, distance

    def route(self, latlon: np.ndarray) -> np.ndarray:
        """The road path through the (lat, lon) waypoints in order, as (K, 2) lat/lon vertices (OSRM's full
        GeoJSON overview); an OSRMError if OSRM finds no route or sends something else."""
        latlon = np.asarray(latlon, dtype=float).reshape(-1, 2)
        where = f"OSRM route at {self.url}"
        reply = self._get(
            "route", self._coordinates(latlon), {"overview": "full", "geometries": "geojson", "steps": "false"}
        )
        routes = reply.get("routes")
        first = routes[0] if isinstance(routes, list) and routes else None
        geometry = first.get("geometry") if isinstance(first, dict) else None
        points = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(points, list)
            or len(points) < 2
            or any(
                not isinstance(p, list)
                or len(p) != 2
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in p)
                for p in points
            )
        ):
            raise OSRMError(
                f"{where}: expected routes[0].geometry.coordinates as [lon, lat] pairs, got {str(geometry)[:200]}"
            )
        lonlat = np.array(points, dtype=float)
        return lonlat[:, ::-1].copy()

    def _tile(self, sources: np.ndarray, destinations: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """One /table request; ``destinations=None`` means sources to themselves."""
        params = {"annotations": "distance,duration"}
        if destinations is None:
            coordinates = self._coordinates(sources)
        else:
            a, b = len(sources), len(destinations)
            coordinates = self._coordinates(np.concatenate([sources, destinations]))
            params["sources"] = ";".join(map(str, range(a)))
            params["destinations"] = ";".join(map(str, range(a, a + b)))
        answer = self._get("table", coordinates, params)
        shape = (len(sources), len(sources) if destinations is None else len(destinations))
        where = f"OSRM table at {self.url}"
        return (
            _table_values(answer, "distances", shape, MAX_DISTANCE_M, where, negative=True),
            _table_values(answer, "durations", shape, MAX_DURATION_S, where),
        )

    def table(self, latlon: np.ndarray, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Full (N, N) road distance (m) and duration (s); NaN where OSRM finds no route (``null``) or gives
        one of its rare negative distances (the pool keeps only mutually reachable points). Every reply is
        checked (shape, numbers in range) first.

        Large N is cut into ``block`` x ``block`` tiles, each one request holding only its own sources and
        destinations, so no request exceeds 2 * block coordinates (servers cap this with --max-table-size)."""
        latlon = np.asarray(latlon, dtype=float).reshape(-1, 2)
        n = len(latlon)
        distance = np.full((n, n), np.nan)
        duration = np.full((n, n), np.nan)
        starts = range(0, n, self.block)
        tiles = [(i, j) for i in starts for j in starts]
        for done, (i, j) in enumerate(tiles):
            rows, cols = slice(i, min(i + self.block, n)), slice(j, min(j + self.block, n))
            if i == j and rows.stop - rows.start == 1:  # OSRM rejects a one-coordinate table; i to i is 0
                distance[rows, cols] = duration[rows, cols] = 0.0
            else:
                distance[rows, cols], duration[rows, cols] = self._tile(latlon[rows], latlon[cols] if i != j else None)
            if progress:
                progress("table", done + 1, len(tiles))
        return _drop_negative(distance, f"OSRM table at {self.url}"), duration

"""A small HTTP client for the two OSRM services a pool needs: ``/nearest`` (snapping) and ``/table``."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import requests

Progress = Callable[[str, int, int], None]


class OSRMError(RuntimeError):
    """The OSRM server is unreachable, or answered with an error code."""


class OSRMClient:
    """``url`` is the server root (``http://host:port``); coordinates are given and returned as (lat, lon).

    Transient failures (connection refused, timeouts, HTTP 5xx) are retried ``retries`` times with exponential
    backoff; OSRM error codes (``InvalidQuery``, ``TooBig``...) are reported at once, with OSRM's message."""

    def __init__(self, url: str, *, profile: str = "driving", timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5, block: int = 250) -> None:
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        self.url = url.rstrip("/")
        self.profile = profile
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.block = block
        self.session = requests.Session()

    def _get(self, service: str, coordinates: str, params: dict[str, str]) -> dict:
        address = f"{self.url}/{service}/v1/{self.profile}/{coordinates}"
        failure = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.get(address, params=params, timeout=self.timeout)
            except requests.RequestException as error:
                failure = f"{type(error).__name__}: {error}"
                continue
            if response.status_code >= 500:
                failure = f"HTTP {response.status_code}"
                continue
            try:
                answer = response.json()
            except ValueError:
                raise OSRMError(f"OSRM {service} at {self.url} answered HTTP {response.status_code} "
                                f"with non-JSON: {response.text[:200]!r}") from None
            if answer.get("code") != "Ok":
                raise OSRMError(f"OSRM {service} at {self.url} failed: {answer.get('code')}: "
                                f"{answer.get('message', '')}")
            return answer
        raise OSRMError(f"OSRM server at {self.url} is not reachable after {self.retries + 1} attempts "
                        f"({failure}); is it running?")

    @staticmethod
    def _coordinates(latlon: np.ndarray) -> str:
        return ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in latlon)

    def nearest(self, latlon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Snap each (lat, lon) to the closest routable road: (snapped (K, 2) lat/lon, snap distance (K,) m)."""
        latlon = np.asarray(latlon, dtype=float).reshape(-1, 2)
        snapped = np.empty_like(latlon)
        distance = np.empty(len(latlon))
        for k, point in enumerate(latlon):
            waypoint = self._get("nearest", self._coordinates(point[None]), {"number": "1"})["waypoints"][0]
            snapped[k] = waypoint["location"][1], waypoint["location"][0]
            distance[k] = waypoint["distance"]
        return snapped, distance

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
        # None (no route) becomes NaN through the float conversion
        return np.array(answer["distances"], dtype=float), np.array(answer["durations"], dtype=float)

    def table(self, latlon: np.ndarray, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Full (N, N) road distance (m) and duration (s); NaN where OSRM finds no route.

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
        return distance, duration

"""Fleets, zones and preferences of the profiled VRP as CAMP poses it (``pvrp-p``, ``pvrp-zc``).

The generic ``pvrp`` preset forbids random (type, customer) pairs and draws preferences as noise;
CAMP's variants give each vehicle type a *geography*, which is what a policy can learn to use.
Drawn per instance, after every other attribute (so the random streams of the other presets
stay as they were, and stored labels keep their meaning):

* fleet: ``K ~ U{min_profiles .. num_profiles}`` vehicle types (types beyond ``K`` are padding
  with no vehicles), each on its own profile, unlimited count, capacity ``round(C * U(0.75, 1.25))``
  (``C`` the preset's capacity; never below the largest demand, so any customer fits alone);
* zones (``zones`` = probability per instance): the customers fall into ``K`` zones, by angular
  sector around the depot (random rotation, equal angles) for half of the instances and by
  nearest of ``K`` random centre customers (profile 0's road time there and back) for the
  other half;
  type ``k`` may serve its own zone ``k`` and each other zone with probability ``ZONE_SHARE``.
  Every customer's zone has its own type, so every instance stays feasible;
* preferences (``preferences`` = probability per instance): type ``k`` values customer ``i`` at
  ``w * unit * (0.5 exp(-t_k(c_k, i) / sigma) + 0.5 u)``, a regional affinity around a random
  home customer ``c_k`` (``sigma`` = the median road time from it) plus individual noise
  ``u ~ U(0, 1)``; ``w`` is the variant's ``preference_weight`` and ``unit`` the generator's time
  unit (the longest depot round trip / 2 sqrt 2), so at ``w = 0.2`` a typical preference is
  worth about one nearest-neighbour arc (Oslo, N = 100: mean preference 0.74 min, mean
  nearest-neighbour arc 0.85 min): the objective (travel time minus preferences served) trades
  the two at that scale. ``w`` is a Variant knob in ``[0, 1]`` (``preference_weight=...``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ZONE_SHARE", "CampProfiles", "camp_profiles"]

ZONE_SHARE = 0.25
CAPACITY_SPREAD = (0.75, 1.25)


@dataclass(frozen=True)
class CampProfiles:
    num_types: np.ndarray  # (B,) vehicle types in use (the rest are padding)
    capacity: np.ndarray  # (B, K)
    allowed: np.ndarray  # (B, K, n) bool
    preference: np.ndarray  # (B, K, n)
    zoned: np.ndarray  # (B,) bool
    preferred: np.ndarray  # (B,) bool


def _angles(coordinates: np.ndarray, latlon: np.ndarray) -> np.ndarray:
    """(B, n) bearing of every node seen from the depot (east = 0), lat/lon scaled to local km."""
    delta = coordinates - coordinates[:, :1]
    lat = np.radians(coordinates[:, :1, 0])
    east = np.where(latlon[:, None], delta[..., 1] * np.cos(lat), delta[..., 0])
    north = np.where(latlon[:, None], delta[..., 0], delta[..., 1])
    return np.arctan2(north, east)


def _zones(
    rng: np.random.Generator, coordinates: np.ndarray, latlon: np.ndarray, time: np.ndarray, types: np.ndarray
) -> np.ndarray:
    """(B, n) zone of every node in ``0 .. types - 1`` (the depot's entry is meaningless)."""
    B, n = time.shape[:2]
    rotation = rng.uniform(0, 2 * np.pi, (B, 1))
    sector = np.floor(((_angles(coordinates, latlon) - rotation) % (2 * np.pi)) / (2 * np.pi) * types[:, None]).astype(
        np.int64
    )
    sector = np.minimum(sector, types[:, None] - 1)
    # K distinct centre customers (random keys, the first ``types`` of them count)
    centres = 1 + np.argsort(rng.random((B, n - 1)), axis=1)[:, : types.max()]
    both_ways = time + time.transpose(0, 2, 1)
    to_centre = np.take_along_axis(both_ways, centres[:, None, :].repeat(n, 1), axis=2)  # (B, n, K)
    to_centre = np.where(np.arange(centres.shape[1]) < types[:, None, None], to_centre, np.inf)
    cluster = to_centre.argmin(axis=2)
    return np.where((rng.random((B,)) < 0.5)[:, None], sector, cluster)


def camp_profiles(
    rng: np.random.Generator,
    *,
    num_profiles: int,
    min_profiles: int,
    zones: float,
    preferences: float,
    preference_weight: float,
    coordinates: np.ndarray,
    latlon: np.ndarray,
    duration: np.ndarray,
    demand: np.ndarray,
    capacity: float,
    unit: np.ndarray,
) -> CampProfiles:
    """``duration``: (B, K, n, n) per profile; ``capacity``: the preset's (inf when uncapacitated)."""
    B, K, n, _ = duration.shape
    low = min(max(min_profiles or num_profiles, 1), K)
    types = rng.integers(low, K + 1, B)
    padding = np.arange(K)[None] >= types[:, None]  # (B, K)

    spread = rng.uniform(*CAPACITY_SPREAD, (B, K))
    sized = (
        np.maximum(np.round(capacity * spread), demand.max(axis=1, keepdims=True))
        if np.isfinite(capacity)
        else np.full((B, K), np.inf)
    )

    zoned = rng.random((B,)) < zones
    zone = _zones(rng, coordinates, latlon, duration[:, 0], types)  # (B, n)
    own = zone[:, None, :] == np.arange(K)[None, :, None]  # (B, K, n)
    allowed = own | (rng.random((B, K, n)) < ZONE_SHARE)
    allowed[:, :, 0] = True
    allowed = np.where(zoned[:, None, None], allowed, True) & ~padding[..., None]

    preferred = rng.random((B,)) < preferences
    home = rng.integers(1, n, (B, K))
    from_home = np.take_along_axis(duration, home[:, :, None, None].repeat(n, 3), axis=2)[:, :, 0]  # (B, K, n)
    sigma = np.maximum(np.median(from_home[..., 1:], axis=2, keepdims=True), 1e-9)
    score = 0.5 * np.exp(-from_home / sigma) + 0.5 * rng.random((B, K, n))
    preference = preference_weight * unit[:, None, None] * score
    preference[:, :, 0] = 0.0
    preference = np.where(preferred[:, None, None] & ~padding[..., None], preference, 0.0)
    return CampProfiles(types, sized, allowed, preference, zoned, preferred)

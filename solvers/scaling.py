"""The one place where an instance's float data becomes the integers classical solvers need.

PyVRP, OR-Tools and VROOM all work on integers. Each quantity family (costs, times, loads) gets
its own power-of-ten factor, chosen from the data:

* exact when possible: the smallest power of ten that makes every value integral (plain integer
  data, e.g. rounded CVRPLIB distances, is used as is);
* otherwise precise: the largest finite value keeps ``DIGITS`` (6) significant digits, so the
  relative rounding error of one entry is at most 5e-7 of the largest entry;
* always safe: an infinite entry (a forbidden arc, a missing capacity) becomes ``Scale.big``,
  which exceeds the sum of any ``terms`` finite entries (so one forbidden arc outweighs any whole
  finite route), while ``terms * big`` still fits the backend's integer type. When that bound
  is tighter than the precision target, precision gives way (recorded in ``Scale.digits``).

Time, load and distance data are rounded conservatively (travel and service times, demands and
distances up, window ends, capacities and distance limits down), so a route that is feasible in
the integer model is feasible on the float data too; costs are rounded to the nearest integer,
except the arc costs of a vehicle type with a distance limit, which are rounded up so that the
limit can be checked on them (PyVRP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nco_core.instance import Instance

__all__ = ["DIGITS", "INT64_MAX", "UINT32_MAX", "IntegerData", "Scale", "choose_scale", "integer_data"]

DIGITS = 6
INT64_MAX = 2**63 - 1
UINT32_MAX = 2**32 - 1  # VROOM's user-facing durations, costs and time windows are uint32
_EPS = 1e-6  # float noise allowed before rounding up/down (0.1 * 10 must give 1, not 2)


@dataclass(frozen=True)
class Scale:
    """``integer = value * factor``; ``big`` stands in for infinity; ``largest`` is the largest
    finite value, scaled (rounded up)."""

    factor: float
    big: int
    largest: int = 0

    @property
    def digits(self) -> int:
        """Significant digits the largest finite value keeps (below ``DIGITS`` only when the
        integer limits forced a smaller factor, or the data is exact with fewer)."""
        return len(str(self.largest)) if self.largest > 0 else 0

    def round(self, values: np.ndarray | float) -> np.ndarray:
        return self._convert(values, np.rint)

    def up(self, values: np.ndarray | float) -> np.ndarray:
        return self._convert(values, lambda x: np.ceil(x - _EPS))

    def down(self, values: np.ndarray | float) -> np.ndarray:
        return self._convert(values, lambda x: np.floor(x + _EPS))

    def value(self, scaled: float) -> float:
        """Back to the instance's units."""
        return float(scaled) / self.factor

    def _convert(self, values: np.ndarray | float, rounding) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(array)
        scaled = np.where(finite, rounding(np.where(finite, array, 0.0) * self.factor), self.big)
        return np.minimum(scaled, self.big).astype(np.int64)


def _integral(values: np.ndarray, power: int) -> bool:
    scaled = values * 10.0**power
    return bool(np.all(np.abs(scaled - np.rint(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))))


def _exact_power(values: np.ndarray, max_power: int) -> int | None:
    """Smallest power of ten (<= max_power) that makes every value an integer, if any.

    A spread-out sample of about a thousand values is checked first: real road data fail
    every power on it at once, so only the power that passes is checked on all values (at
    N = 1000 this took the scaling from 0.4 s to a few ms, charged to every budget)."""
    probe = values[:: max(1, values.size // 1024)]
    for power in range(0, max_power + 1):
        if _integral(probe, power) and _integral(values, power):
            return power
    return None


def choose_scale(
    values: np.ndarray,
    *,
    terms: int,
    entry_limit: int = INT64_MAX,
    sum_limit: int = INT64_MAX,
    digits: int = DIGITS,
    min_factor: float = 0.0,
) -> Scale:
    """The power-of-ten scale for one quantity family (see the module docstring).

    ``terms`` is how many entries one route can add up (arcs, services, demands); ``big`` is
    ``terms * largest + 1`` and must satisfy ``big <= entry_limit`` and ``terms * big <= sum_limit``.
    ``min_factor`` asks for at least that factor (e.g. a cost scale that is a multiple of the
    time scale), as far as the limits allow.
    """
    array = np.asarray(values, dtype=np.float64).ravel()
    finite = np.abs(array[np.isfinite(array)])
    top = float(finite.max()) if finite.size else 0.0
    if top == 0.0:
        return Scale(factor=1.0, big=terms + 1, largest=0)
    largest_allowed = min((entry_limit - 1) / terms, (sum_limit / terms - 1) / terms)
    max_power = math.floor(math.log10(largest_allowed / top))
    target = digits - 1 - math.floor(math.log10(top))
    exact = _exact_power(finite, max(target, 0))
    power = exact if exact is not None else target
    if min_factor > 0:
        power = max(power, math.ceil(math.log10(min_factor) - 1e-9))
    power = min(power, max_power)
    factor = 10.0**power
    largest = math.ceil(top * factor)
    return Scale(factor=factor, big=terms * largest + 1, largest=largest)


@dataclass(frozen=True)
class IntegerData:
    """An instance as integer arrays, in the form every backend builds its model from.

    ``arc_cost[k]`` is the full per-arc objective of vehicle type ``k`` in cost units:
    ``unit_distance_cost * distance`` plus the preference shift ``max_pref - pref[k, j]`` on arcs
    entering customer ``j`` (each customer is entered exactly once, so this changes the objective
    by the constant ``n * max_pref``), with forbidden arcs and arcs into customers type ``k`` may
    not serve set to ``cost.big``. With ``fold_duration_cost`` it also holds
    ``unit_duration_cost * (travel + service)`` for backends without a duration cost (waiting is
    then not priced); otherwise ``duration_rate[k]`` prices one integer time unit.
    For open-ended vehicle types, arcs into depots cost nothing. ``prize`` holds each optional
    client's prize plus the preference shift (so the objective still moves by a constant).
    """

    cost: Scale
    time: Scale
    load: Scale
    arc_cost: np.ndarray  # (K, N, N)
    travel: np.ndarray  # (P, N, N) durations per profile (arcs into depots too: zero them for open ends)
    service: np.ndarray  # (N,), zero at depots
    windows: np.ndarray  # (N, 2); depot rows are opening hours
    shift: np.ndarray  # (K, 2) earliest departure, latest finish (depot hours and the vehicle's shift)
    prize: np.ndarray  # (N,) cost of leaving an optional client out (0 for required ones and depots)
    delivery: np.ndarray  # (N,)
    pickup: np.ndarray  # (N,)
    capacity: np.ndarray  # (K,), load.big where unlimited
    fixed_cost: np.ndarray  # (K,)
    max_duration: np.ndarray  # (K,), time.big where unlimited
    duration_rate: np.ndarray  # (K,) cost units per integer time unit
    preference_offset: float  # solver objective - evaluator objective, in instance units
    distance: Scale | None = None  # set when some vehicle type has a distance limit
    distances: np.ndarray | None = None  # (P, N, N) distances, rounded up
    max_distance: np.ndarray | None = None  # (K,) in ``distance`` units, rounded down; distance.big where unlimited
    max_distance_cost: np.ndarray | None = None  # (K,) the same limit on ``arc_cost`` (see integer_data)

    def describe(self) -> dict[str, float]:
        """Scale factors and the significant digits they keep, for ``Solution.info``."""
        return {
            f"{name}_{what}": value
            for name, scale in (("cost", self.cost), ("time", self.time), ("load", self.load))
            for what, value in (("factor", scale.factor), ("digits", scale.digits))
        }


def integer_data(
    instance: Instance,
    *,
    entry_limit: int = INT64_MAX,
    sum_limit: int = INT64_MAX,
    fold_duration_cost: bool = False,
    digits: int = DIGITS,
) -> IntegerData:
    """Scale ``instance`` for a backend whose integers must respect the given limits.

    Open-ended vehicle types (``end_depot is None``) get free arcs into every depot in
    ``arc_cost``; a backend that closes their routes at a dummy depot zeroes the travel times
    into it itself (``travel`` is shared by the types of a profile)."""
    types = instance.vehicle_types
    size = instance.num_nodes
    depots = instance.num_depots
    open_end = np.array([v.end_depot is None for v in types])
    travel_f = np.stack([instance.duration_matrix(p) for p in range(instance.num_profiles)])
    service_f = instance.service.copy()
    service_f[:depots] = 0.0

    # times: travel, service, windows, shifts and max durations share one scale
    windows_f = instance.time_windows
    max_durations = np.array([v.max_duration for v in types])
    shifts_f = np.array([v.time_window or (0.0, math.inf) for v in types], dtype=np.float64)
    time_values = np.concatenate(
        [
            np.where(np.isfinite(travel_f), travel_f, 0.0).ravel(),
            service_f,
            max_durations[np.isfinite(max_durations)],
            shifts_f[np.isfinite(shifts_f)],
        ]
        + ([windows_f.ravel()] if windows_f is not None else [])
    )
    time = choose_scale(time_values, terms=2 * size + 2, entry_limit=entry_limit, sum_limit=sum_limit, digits=digits)

    # loads
    capacities = np.array([v.capacity for v in types])
    load_values = np.concatenate([instance.delivery, instance.backhaul, capacities[np.isfinite(capacities)]])
    load = choose_scale(load_values, terms=size + 1, entry_limit=entry_limit, sum_limit=sum_limit, digits=digits)

    # costs: per vehicle type arc objective. The preference shift adds ``top`` per client, served
    # (top - preference) or not (its prize + top), so the objective moves by a constant.
    shift = np.zeros((len(types), size))
    offset = top = 0.0
    if instance.preference is not None:
        top = max(float(instance.preference[:, depots:].max()), 0.0)
        shift[:, depots:] = top - instance.preference[:, depots:]
        offset = top * instance.num_customers
    optional = ~instance.is_required
    prize_f = np.where(optional, instance.prizes + top, 0.0)
    rates = np.array([v.unit_duration_cost for v in types])
    arc_f = np.empty((len(types), size, size))
    for k, vehicle in enumerate(types):
        distance = instance.distance_matrix(vehicle.profile).copy()
        if open_end[k]:
            distance[:, :depots] = 0.0
        # 0 * inf must stay inf (forbidden), not nan
        arc = np.where(np.isfinite(distance), vehicle.unit_distance_cost * distance, np.inf) + shift[k][None, :]
        if fold_duration_cost and rates[k] > 0:
            travel = travel_f[vehicle.profile] + service_f[None, :]
            if open_end[k]:
                travel[:, :depots] = 0.0
            arc = arc + np.where(np.isfinite(travel), rates[k] * travel, np.inf)
        arc_f[k] = arc
    if instance.allowed is not None:
        forbidden = ~instance.allowed
        forbidden[:, :depots] = False
        arc_f[np.broadcast_to(forbidden[:, None, :], arc_f.shape)] = np.inf
    fixed_f = np.array([v.fixed_cost for v in types])
    # Prizes do not set the cost scale (a prize far above the arc costs must not take their precision):
    # they are rounded on the routes' scale and capped at ``cost.big``, more than a whole route
    # costs, so a client with a larger prize is served whenever it can be. Routes and prizes then
    # get half the integer range each.
    cost_values = [np.where(np.isfinite(arc_f), arc_f, 0.0).ravel(), fixed_f]
    min_factor = 0.0
    if not fold_duration_cost and np.any(rates > 0):
        # route duration priced per time unit: cost scale = time scale * a power of ten making
        # every rate integral, and room for rate * longest route
        longest = time.big / time.factor
        cost_values.append(rates * longest)
        rate_power = _exact_power(rates[rates > 0], digits)
        min_factor = time.factor * 10.0 ** (digits if rate_power is None else rate_power)
    cost = choose_scale(
        np.concatenate(cost_values),
        terms=size + 2,
        entry_limit=entry_limit,
        sum_limit=sum_limit // 2 if optional.any() else sum_limit,
        digits=digits,
        min_factor=min_factor,
    )
    duration_rate = np.zeros(len(types), dtype=np.int64)
    if not fold_duration_cost:
        duration_rate = np.rint(rates * cost.factor / time.factor).astype(np.int64)

    if windows_f is not None:
        windows = np.stack([time.up(windows_f[:, 0]), time.down(windows_f[:, 1])], axis=1)
    else:
        windows = np.tile(np.array([0, time.big], dtype=np.int64), (size, 1))
    starts = np.array([v.start_depot for v in types])
    ends = np.array([0 if v.end_depot is None else v.end_depot for v in types])
    shift = np.stack(
        [
            np.maximum(time.up(shifts_f[:, 0]), windows[starts, 0]),
            np.minimum(time.down(shifts_f[:, 1]), np.where(open_end, time.big, windows[ends, 1])),
        ],
        axis=1,
    )
    limits = np.array([v.max_distance for v in types])
    limited = np.isfinite(limits)
    arc_cost = cost.round(arc_f)
    distance_data: dict = {}
    if limited.any():
        distance_f = np.stack([instance.distance_matrix(p) for p in range(instance.num_profiles)])
        distance_scale = choose_scale(
            np.concatenate([np.where(np.isfinite(distance_f), distance_f, 0.0).ravel(), limits[limited]]),
            terms=size + 2,
            entry_limit=entry_limit,
            sum_limit=sum_limit,
            digits=digits,
        )
        arc_cost[limited] = cost.up(arc_f[limited])
        distance_data = dict(
            distance=distance_scale,
            distances=distance_scale.up(distance_f),
            max_distance=distance_scale.down(limits),
            max_distance_cost=cost.down(np.array([v.unit_distance_cost for v in types]) * limits),
        )
    return IntegerData(
        cost=cost,
        time=time,
        load=load,
        arc_cost=arc_cost,
        travel=time.up(travel_f),
        service=time.up(service_f),
        windows=windows,
        shift=shift,
        prize=cost.round(prize_f),
        delivery=load.up(instance.delivery),
        pickup=load.up(instance.backhaul),
        capacity=load.down(capacities),
        fixed_cost=cost.round(fixed_f),
        max_duration=time.down(max_durations),
        duration_rate=duration_rate,
        preference_offset=offset,
        **distance_data,
    )
